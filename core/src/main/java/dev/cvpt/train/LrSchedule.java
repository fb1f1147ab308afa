package dev.cvpt.train;

/**
 * The official learning-rate schedule: timm's CosineLRScheduler (linear warmup from
 * {@code warmupLr}, then cosine down to {@code minLr}), stepped once per epoch and — as in the
 * official train.py, which steps the scheduler after each epoch — lagging one epoch:
 * epoch e (0-based) trains with timm's value for t = max(0, e − 1).
 * <pre>
 * e = 0:          warmupLr
 * 1 ≤ e ≤ W:      warmupLr + (e−1)(lr − warmupLr)/W
 * e ≥ W+1:        minLr + ½(lr − minLr)(1 + cos(π(e−1)/E))
 * </pre>
 */
public record LrSchedule(double lr, int epochs, int warmupEpochs, double warmupLr, double minLr) {
    public static final double WARMUP_LR = 1e-6, MIN_LR = 1e-5;

    public static LrSchedule official(double lr, int epochs, int warmupEpochs) {
        return new LrSchedule(lr, epochs, warmupEpochs, WARMUP_LR, MIN_LR);
    }

    public double at(int epoch) {
        int t = Math.max(0, epoch - 1);
        if (t < warmupEpochs) return warmupLr + t * (lr - warmupLr) / warmupEpochs;
        return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * t / epochs));
    }
}
