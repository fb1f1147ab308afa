package dev.cvpt.train;

import org.bytedeco.pytorch.Tensor;

import java.util.Locale;
import java.util.Map;

/**
 * The training recipe. Defaults are the official VTAB-1k ones (train.py): AdamW lr 1e-3, weight
 * decay 0.05, batch 32, 100 epochs, 10 warmup epochs from 1e-6, cosine to 1e-5, drop-path 0.1,
 * prompt dropout 0.1, test accuracy every 10 epochs. {@code optim} picks the optimizer, its
 * weight-decay groups and the lr schedule (null: the CVPT ones).
 */
public record Recipe(int epochs, int batch, double lr, double weightDecay, int warmupEpochs,
                     double dropPath, double promptDropout, long seed, int evalEvery, Optim optim) {

    /**
     * The optimizer settings of an official code base.
     *
     * @param optimizer       {@code adamw} or {@code sgd} (torch.optim semantics)
     * @param momentum        SGD momentum (dampening 0, no Nesterov, as every official SGD recipe here)
     * @param decay           weight-decay rule, see {@link WeightDecay}
     * @param headWeightDecay the head's weight decay under {@code no-bias-1d} (negative: the recipe's)
     * @param schedule        lr schedule kind, see {@link LrSchedule}
     */
    public record Optim(String optimizer, double momentum, String decay, double headWeightDecay, String schedule) {
        /** The official CVPT one: AdamW, decay on every trainable, timm cosine per epoch (lagging one epoch). */
        public static final Optim CVPT = new Optim("adamw", 0.9, WeightDecay.ALL, -1, LrSchedule.CVPT);
        /** KMnP/vpt code base (VFPT, E2VPT): SGD momentum 0.9, no decay on head.bias, WarmupCosine per epoch. */
        public static final Optim KMNP = new Optim("sgd", 0.9, WeightDecay.NO_HEAD_BIAS, -1, LrSchedule.KMNP);

        public Optim {
            optimizer = optimizer == null ? "adamw" : optimizer.toLowerCase(Locale.ROOT);
            if (!optimizer.equals("adamw") && !optimizer.equals("sgd"))
                throw new IllegalArgumentException("unknown optimizer '" + optimizer + "' (adamw, sgd)");
            if (momentum < 0 || momentum >= 1) throw new IllegalArgumentException("momentum must be in [0,1), got " + momentum);
            new WeightDecay(decay, 0, headWeightDecay);                      // validates the rule
            LrSchedule.of(schedule == null ? LrSchedule.CVPT : schedule, 1, 1, 0);   // validates the schedule
        }

        /** SPT (timm-style groups, --wd_head, per-step cosine). */
        public static Optim spt(double headWeightDecay) {
            return new Optim("adamw", 0.9, WeightDecay.NO_BIAS_1D, headWeightDecay, LrSchedule.SPT);
        }
    }

    public static Recipe official() {
        return new Recipe(100, 32, 1e-3, 0.05, 10, 0.1, 0.1, 42, 10);
    }

    public Recipe(int epochs, int batch, double lr, double weightDecay, int warmupEpochs,
                  double dropPath, double promptDropout, long seed, int evalEvery) {
        this(epochs, batch, lr, weightDecay, warmupEpochs, dropPath, promptDropout, seed, evalEvery, Optim.CVPT);
    }

    public Recipe {
        if (epochs < 1) throw new IllegalArgumentException("epochs must be at least 1");
        if (batch < 1) throw new IllegalArgumentException("batch must be at least 1");
        if (!(lr > 0)) throw new IllegalArgumentException("lr must be positive");
        if (weightDecay < 0) throw new IllegalArgumentException("weight decay must be >= 0");
        if (warmupEpochs < 0) throw new IllegalArgumentException("warmup must be >= 0");
        if (dropPath < 0 || dropPath >= 1) throw new IllegalArgumentException("drop-path must be in [0,1)");
        if (evalEvery < 1) throw new IllegalArgumentException("eval-every must be at least 1");
        if (optim == null) optim = Optim.CVPT;
    }

    public LrSchedule schedule() { return LrSchedule.of(optim.schedule(), lr, epochs, warmupEpochs); }

    public WeightDecay decay() { return new WeightDecay(optim.decay(), weightDecay, optim.headWeightDecay()); }

    /** The optimizer of this recipe over the trainables. */
    public Optimizer optimizer(Map<String, Tensor> trainable) {
        Map<String, Double> wd = decay().of(trainable);
        return optim.optimizer().equals("sgd") ? new Sgd(trainable, wd, null, optim.momentum(), 0, false)
                : new AdamW(trainable, wd, null);
    }

    /** This recipe with another peak lr. */
    public Recipe withLr(double newLr) {
        return new Recipe(epochs, batch, newLr, weightDecay, warmupEpochs, dropPath, promptDropout, seed, evalEvery, optim);
    }

    /** This recipe with other optimizer settings. */
    public Recipe withOptim(Optim o) {
        return new Recipe(epochs, batch, lr, weightDecay, warmupEpochs, dropPath, promptDropout, seed, evalEvery, o);
    }
}
