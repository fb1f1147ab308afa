package dev.cvpt.train;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.util.LinkedHashMap;
import java.util.Map;

import static dev.cvpt.engine.Tensors.scalar;
import static org.bytedeco.pytorch.global.torch.zeros_like;

/**
 * AdamW with torch's semantics (torch.optim.AdamW, single-tensor path): decoupled weight decay
 * {@code p *= 1 - lr*wd} first, then the Adam update with bias corrections. Written out instead of
 * using torch::optim::AdamW so that its state (moments and step) can be saved and restored exactly.
 * Weight decay and lr multipliers may differ per parameter (the param groups of the official code,
 * see {@link WeightDecay}).
 */
public final class AdamW implements Optimizer {
    public static final double BETA1 = 0.9, BETA2 = 0.999, EPS = 1e-8;
    public static final String EXP_AVG = "exp_avg", EXP_AVG_SQ = "exp_avg_sq";

    private final Map<String, Tensor> params;
    private final Map<String, Tensor> expAvg = new LinkedHashMap<>(), expAvgSq = new LinkedHashMap<>();
    private final Map<String, Double> decay, lrScale;
    private long step;

    /** The same weight decay on every parameter (one param group). */
    public AdamW(Map<String, Tensor> params, double weightDecay) {
        this(params, WeightDecay.all(weightDecay).of(params), null);
    }

    /**
     * @param decay   weight decay per parameter name (missing: 0)
     * @param lrScale lr multiplier per parameter name (missing: 1; null: all 1)
     */
    public AdamW(Map<String, Tensor> params, Map<String, Double> decay, Map<String, Double> lrScale) {
        this.params = new LinkedHashMap<>(params);
        this.decay = Map.copyOf(decay);
        this.lrScale = lrScale == null ? Map.of() : Map.copyOf(lrScale);
        for (var e : params.entrySet()) {
            Tensor p = e.getValue().detach();
            expAvg.put(e.getKey(), zeros_like(p));
            expAvgSq.put(e.getKey(), zeros_like(p));
        }
    }

    @Override public Map<String, Tensor> parameters() { return params; }

    @Override public long stepCount() { return step; }

    /** Restores the step count (the moments are restored by copying into {@link #firstMoments()} etc.). */
    @Override public void stepCount(long s) { this.step = s; }

    /** One update with learning rate lr, using each parameter's .grad() (skipped when it has none). */
    @Override
    public void step(double lr) {
        step++;
        double bc1 = 1 - Math.pow(BETA1, step), bc2 = 1 - Math.pow(BETA2, step);
        double bc2Sqrt = Math.sqrt(bc2);
        try (NoGradGuard g = new NoGradGuard()) {
            for (var e : params.entrySet()) {
                Tensor p = e.getValue(), grad = p.grad();
                if (grad == null || !grad.defined()) continue;
                String n = e.getKey();
                double plr = lr * lrScale.getOrDefault(n, 1.0), wd = decay.getOrDefault(n, 0.0);
                Tensor m = expAvg.get(n), v = expAvgSq.get(n);
                p.mul_(scalar(1 - plr * wd));
                m.mul_(scalar(BETA1)).add_(grad, scalar(1 - BETA1));
                v.mul_(scalar(BETA2)).addcmul_(grad, grad, scalar(1 - BETA2));
                Tensor denom = v.sqrt().div_(scalar(bc2Sqrt)).add_(scalar(EPS));
                p.addcdiv_(m, denom, scalar(-plr / bc1));
            }
        }
    }

    public Map<String, Tensor> firstMoments() { return expAvg; }

    public Map<String, Tensor> secondMoments() { return expAvgSq; }

    @Override
    public Map<String, Map<String, Tensor>> state() {
        Map<String, Map<String, Tensor>> s = new LinkedHashMap<>();
        s.put(EXP_AVG, expAvg);
        s.put(EXP_AVG_SQ, expAvgSq);
        return s;
    }

    @Override public String[] stateKinds() { return new String[]{EXP_AVG, EXP_AVG_SQ}; }

    @Override
    public void restoreState(String kind, String name, Tensor value) {
        Tensor dst = (kind.equals(EXP_AVG) ? expAvg : kind.equals(EXP_AVG_SQ) ? expAvgSq : Map.<String, Tensor>of()).get(name);
        if (dst == null) throw new IllegalArgumentException(kind + "/" + name);
        try (NoGradGuard g = new NoGradGuard()) {
            dst.copy_(value);
        }
    }
}
