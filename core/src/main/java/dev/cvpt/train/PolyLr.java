package dev.cvpt.train;

/**
 * mmcv's PolyLrUpdaterHook, iteration-based: before iteration t (0-based) each param group's lr is
 * {@code (lr₀ − minLr)·(1 − t/maxIters)^power + minLr} from its own initial lr₀ (min_lr an absolute floor),
 * no warmup. mmseg's ADE20K configs: power 0.9, min_lr 1e-4, 160k iterations.
 */
public record PolyLr(long maxIters, double power, double minLr) {
    public PolyLr {
        if (maxIters < 1) throw new IllegalArgumentException("max iterations must be at least 1, got " + maxIters);
    }

    public double at(double baseLr, long iter) {
        return (baseLr - minLr) * Math.pow(1 - (double) iter / maxIters, power) + minLr;
    }
}
