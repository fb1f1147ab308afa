package dev.cvpt.train;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.ToDoubleFunction;

import static dev.cvpt.engine.Tensors.scalar;
import static org.bytedeco.pytorch.global.torch.zeros_like;

/**
 * torch.optim.SGD (single-tensor path) with a learning rate per tensor (one param group per tensor, as
 * mmcv's DefaultOptimizerConstructor builds): {@code d = g + wd·p}; with momentum the buffer is
 * {@code d} on the first step and {@code μ·buf + (1−dampening)·d} after; nesterov uses {@code d + μ·buf};
 * {@code p −= lr·d}. Written out, like {@link AdamW}, so that the momentum buffers save and restore exactly.
 */
public final class Sgd {
    private final Map<String, Tensor> params;
    private final Map<String, Tensor> momentum = new LinkedHashMap<>();
    private final double mu, dampening, weightDecay;
    private final boolean nesterov;
    private long step;

    public Sgd(Map<String, Tensor> params, double momentum, double dampening, double weightDecay, boolean nesterov) {
        if (nesterov && (momentum <= 0 || dampening != 0)) throw new IllegalArgumentException("nesterov needs momentum > 0 and dampening 0");
        this.params = new LinkedHashMap<>(params);
        this.mu = momentum;
        this.dampening = dampening;
        this.weightDecay = weightDecay;
        this.nesterov = nesterov;
        if (momentum != 0) params.forEach((n, p) -> this.momentum.put(n, zeros_like(p.detach())));
    }

    /** Plain momentum SGD as mmseg's config (dampening 0, no nesterov, no weight decay). */
    public static Sgd momentum(Map<String, Tensor> params, double momentum) {
        return new Sgd(params, momentum, 0, 0, false);
    }

    public long stepCount() { return step; }

    public void stepCount(long s) { step = s; }

    /** The momentum buffers (zeros before the first step), for saving and restoring. */
    public Map<String, Tensor> buffers() { return momentum; }

    /** One update; {@code lr} gives each tensor's learning rate by name. Tensors without a gradient are skipped. */
    public void step(ToDoubleFunction<String> lr) {
        boolean first = step == 0;
        step++;
        try (NoGradGuard g = new NoGradGuard()) {
            for (var e : params.entrySet()) {
                Tensor p = e.getValue(), grad = p.grad();
                if (grad == null || !grad.defined()) continue;
                Tensor d = weightDecay != 0 ? grad.add(p, scalar(weightDecay)) : grad;
                if (mu != 0) {
                    Tensor buf = momentum.get(e.getKey());
                    if (first) buf.copy_(d);
                    else buf.mul_(scalar(mu)).add_(d, scalar(1 - dampening));
                    d = nesterov ? d.add(buf, scalar(mu)) : buf;
                }
                p.add_(d, scalar(-lr.applyAsDouble(e.getKey())));
            }
        }
    }

    public void zeroGrad() {
        try (NoGradGuard g = new NoGradGuard()) {
            for (Tensor p : params.values()) {
                Tensor grad = p.grad();
                if (grad != null && grad.defined()) grad.zero_();
            }
        }
    }
}
