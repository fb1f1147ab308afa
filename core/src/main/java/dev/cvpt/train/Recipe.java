package dev.cvpt.train;

/**
 * The training recipe. Defaults are the official VTAB-1k ones (train.py): AdamW lr 1e-3, weight
 * decay 0.05, batch 32, 100 epochs, 10 warmup epochs from 1e-6, cosine to 1e-5, drop-path 0.1,
 * prompt dropout 0.1, test accuracy every 10 epochs.
 */
public record Recipe(int epochs, int batch, double lr, double weightDecay, int warmupEpochs,
                     double dropPath, double promptDropout, long seed, int evalEvery) {

    public static Recipe official() {
        return new Recipe(100, 32, 1e-3, 0.05, 10, 0.1, 0.1, 42, 10);
    }

    public Recipe {
        if (epochs < 1) throw new IllegalArgumentException("epochs must be at least 1");
        if (batch < 1) throw new IllegalArgumentException("batch must be at least 1");
        if (!(lr > 0)) throw new IllegalArgumentException("lr must be positive");
        if (weightDecay < 0) throw new IllegalArgumentException("weight decay must be >= 0");
        if (warmupEpochs < 0) throw new IllegalArgumentException("warmup must be >= 0");
        if (dropPath < 0 || dropPath >= 1) throw new IllegalArgumentException("drop-path must be in [0,1)");
        if (evalEvery < 1) throw new IllegalArgumentException("eval-every must be at least 1");
    }

    public LrSchedule schedule() { return LrSchedule.official(lr, epochs, warmupEpochs); }
}
