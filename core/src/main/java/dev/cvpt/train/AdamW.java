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
 */
public final class AdamW {
    public static final double BETA1 = 0.9, BETA2 = 0.999, EPS = 1e-8;

    private final Map<String, Tensor> params;
    private final Map<String, Tensor> expAvg = new LinkedHashMap<>(), expAvgSq = new LinkedHashMap<>();
    private final double weightDecay;
    private long step;

    public AdamW(Map<String, Tensor> params, double weightDecay) {
        this.params = new LinkedHashMap<>(params);
        this.weightDecay = weightDecay;
        for (var e : params.entrySet()) {
            Tensor p = e.getValue().detach();
            expAvg.put(e.getKey(), zeros_like(p));
            expAvgSq.put(e.getKey(), zeros_like(p));
        }
    }

    public long stepCount() { return step; }

    /** One update with learning rate lr, using each parameter's .grad() (skipped when it has none). */
    public void step(double lr) {
        step++;
        double bc1 = 1 - Math.pow(BETA1, step), bc2 = 1 - Math.pow(BETA2, step);
        double stepSize = lr / bc1, bc2Sqrt = Math.sqrt(bc2);
        try (NoGradGuard g = new NoGradGuard()) {
            for (var e : params.entrySet()) {
                Tensor p = e.getValue(), grad = p.grad();
                if (grad == null || !grad.defined()) continue;
                Tensor m = expAvg.get(e.getKey()), v = expAvgSq.get(e.getKey());
                p.mul_(scalar(1 - lr * weightDecay));
                m.mul_(scalar(BETA1)).add_(grad, scalar(1 - BETA1));
                v.mul_(scalar(BETA2)).addcmul_(grad, grad, scalar(1 - BETA2));
                Tensor denom = v.sqrt().div_(scalar(bc2Sqrt)).add_(scalar(EPS));
                p.addcdiv_(m, denom, scalar(-stepSize));
            }
        }
    }

    /** Zeroes the gradients in place (every trainable gets a gradient each step, so this equals set_to_none). */
    public void zeroGrad() {
        try (NoGradGuard g = new NoGradGuard()) {
            for (Tensor p : params.values()) {
                Tensor grad = p.grad();
                if (grad != null && grad.defined()) grad.zero_();
            }
        }
    }

    public Map<String, Tensor> firstMoments() { return expAvg; }

    public Map<String, Tensor> secondMoments() { return expAvgSq; }

    /** Restores the step count (the moments are restored by copying into {@link #firstMoments()} etc.). */
    public void stepCount(long s) { this.step = s; }
}
