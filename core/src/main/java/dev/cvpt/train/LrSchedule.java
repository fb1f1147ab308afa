package dev.cvpt.train;

import java.util.Locale;

/**
 * The learning-rate schedules of the official code bases ({@code kind}):
 * <ul>
 * <li>{@code cvpt} (default): timm's CosineLRScheduler (linear warmup from {@code warmupLr}, then
 * cosine down to {@code minLr}), stepped once per epoch and — as in the official CVPT train.py,
 * which steps the scheduler after each epoch — lagging one epoch: epoch e (0-based) trains with
 * timm's value for t = max(0, e − 1).
 * <pre>
 * e = 0:          warmupLr
 * 1 ≤ e ≤ W:      warmupLr + (e−1)(lr − warmupLr)/W
 * e ≥ W+1:        minLr + ½(lr − minLr)(1 + cos(π(e−1)/E))
 * </pre></li>
 * <li>{@code kmnp}: the KMnP/vpt WarmupCosineSchedule (VFPT, E2VPT: src/solver/lr_scheduler.py
 * L41-65, stepped once per epoch after it): e &lt; W: lr·e/W (epoch 0 trains with lr 0), else
 * lr·½(1 + cos(π(e − W)/(E − W))).</li>
 * <li>{@code spt}: SPT's adjust_learning_rate (utils.py L64-76), set every step with the fractional
 * epoch f = e + step/steps: f &lt; W: lr·f/W (the first step has lr 0), else
 * minLr + (lr − minLr)·½(1 + cos(π(f − W)/(E − W))), minLr 1e-8.</li>
 * <li>{@code dyt}: DyT's adjust_learning_rate (util/lr_sched.py L9-21), the same per-step form as
 * {@code spt} with minLr 1e-5: f &lt; W: lr·f/W (the first step has lr 0), else
 * 1e-5 + (lr − 1e-5)·½(1 + cos(π(f − W)/(E − W))).</li>
 * </ul>
 */
public record LrSchedule(double lr, int epochs, int warmupEpochs, double warmupLr, double minLr, String kind) {
    public static final double WARMUP_LR = 1e-6, MIN_LR = 1e-5, SPT_MIN_LR = 1e-8;
    public static final String CVPT = "cvpt", KMNP = "kmnp", SPT = "spt", DYT = "dyt";

    public LrSchedule {
        kind = kind == null ? CVPT : kind.toLowerCase(Locale.ROOT);
        if (!kind.equals(CVPT) && !kind.equals(KMNP) && !kind.equals(SPT) && !kind.equals(DYT))
            throw new IllegalArgumentException("unknown lr schedule '" + kind + "' (cvpt, kmnp, spt, dyt)");
    }

    public LrSchedule(double lr, int epochs, int warmupEpochs, double warmupLr, double minLr) {
        this(lr, epochs, warmupEpochs, warmupLr, minLr, CVPT);
    }

    public static LrSchedule official(double lr, int epochs, int warmupEpochs) {
        return new LrSchedule(lr, epochs, warmupEpochs, WARMUP_LR, MIN_LR);
    }

    public static LrSchedule of(String kind, double lr, int epochs, int warmupEpochs) {
        return switch (kind == null ? CVPT : kind) {
            case SPT -> new LrSchedule(lr, epochs, warmupEpochs, 0, SPT_MIN_LR, SPT);
            case KMNP -> new LrSchedule(lr, epochs, warmupEpochs, 0, 0, KMNP);
            case DYT -> new LrSchedule(lr, epochs, warmupEpochs, 0, MIN_LR, DYT);
            default -> new LrSchedule(lr, epochs, warmupEpochs, WARMUP_LR, MIN_LR, kind);
        };
    }

    /** Whether the lr changes within an epoch (then use {@link #at(int, int, int)} every step). */
    public boolean perStep() { return kind.equals(SPT) || kind.equals(DYT); }

    /** The lr of epoch e (its first step for per-step schedules). */
    public double at(int epoch) { return at(epoch, 0, 1); }

    /** The lr of step {@code step} of {@code steps} in epoch e. */
    public double at(int epoch, int step, int steps) {
        return switch (kind) {
            case KMNP -> epoch < warmupEpochs ? lr * epoch / Math.max(1, warmupEpochs)
                    : lr * 0.5 * (1 + Math.cos(Math.PI * (epoch - warmupEpochs) / (epochs - warmupEpochs)));
            case SPT, DYT -> {
                double f = epoch + (double) step / steps;
                yield f < warmupEpochs ? lr * f / warmupEpochs
                        : minLr + (lr - minLr) * 0.5 * (1 + Math.cos(Math.PI * (f - warmupEpochs) / (epochs - warmupEpochs)));
            }
            default -> {
                int t = Math.max(0, epoch - 1);
                if (t < warmupEpochs) yield warmupLr + t * (lr - warmupLr) / warmupEpochs;
                yield minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * t / epochs));
            }
        };
    }
}
