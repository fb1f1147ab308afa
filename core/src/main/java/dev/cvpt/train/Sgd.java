package dev.cvpt.train;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.ToDoubleFunction;

import static dev.cvpt.engine.Tensors.scalar;

/**
 * torch.optim.SGD (single-tensor path, maximize False), one param group per tensor:
 * <pre>
 *   d = g + wd·p                                  (coupled L2, only where wd ≠ 0)
 *   buf = d (first step: a copy) | momentum·buf + (1 − dampening)·d
 *   d = nesterov ? d + momentum·buf : buf         (only where momentum ≠ 0)
 *   p −= lr·scale·d
 * </pre>
 * The momentum buffer is created at a parameter's first update (torch's {@code None} buffer), so
 * the first step is plain SGD even with dampening. Per-parameter weight decay (see
 * {@link WeightDecay}) and lr multipliers are the param groups of the official code.
 */
public final class Sgd implements Optimizer {
    public static final String BUFFER = "momentum_buffer";

    private final Map<String, Tensor> params;
    private final Map<String, Double> decay, lrScale;
    private final double momentum, dampening;
    private final boolean nesterov;
    private final Map<String, Tensor> buffers = new LinkedHashMap<>();
    private long step;

    /**
     * @param decay   weight decay per parameter name (missing: 0)
     * @param lrScale lr multiplier per parameter name (missing: 1; null: all 1)
     */
    public Sgd(Map<String, Tensor> params, Map<String, Double> decay, Map<String, Double> lrScale,
               double momentum, double dampening, boolean nesterov) {
        if (momentum < 0) throw new IllegalArgumentException("momentum must be >= 0, got " + momentum);
        if (nesterov && (momentum <= 0 || dampening != 0))
            throw new IllegalArgumentException("Nesterov momentum requires a momentum and zero dampening");
        this.params = new LinkedHashMap<>(params);
        this.decay = decay == null ? Map.of() : Map.copyOf(decay);
        this.lrScale = lrScale == null ? Map.of() : Map.copyOf(lrScale);
        this.momentum = momentum;
        this.dampening = dampening;
        this.nesterov = nesterov;
    }

    /** SGD with momentum, the same weight decay on every parameter. */
    public Sgd(Map<String, Tensor> params, double weightDecay, double momentum) {
        this(params, WeightDecay.all(weightDecay).of(params), null, momentum, 0, false);
    }

    /** torch.optim.SGD with one weight decay for every parameter (mmseg's config: momentum 0.9, dampening 0, wd 0). */
    public Sgd(Map<String, Tensor> params, double momentum, double dampening, double weightDecay, boolean nesterov) {
        this(params, WeightDecay.all(weightDecay).of(params), null, momentum, dampening, nesterov);
    }

    /** Plain momentum SGD as mmseg's config (dampening 0, no nesterov, no weight decay). */
    public static Sgd momentum(Map<String, Tensor> params, double momentum) {
        return new Sgd(params, momentum, 0, 0, false);
    }

    @Override public Map<String, Tensor> parameters() { return params; }

    @Override public long stepCount() { return step; }

    @Override public void stepCount(long s) { step = s; }

    @Override
    public void step(double lr) {
        step(n -> lr * lrScale.getOrDefault(n, 1.0));
    }

    /**
     * One update where {@code lr} gives each parameter's learning rate by name (param groups whose
     * schedules are not multiples of one another, such as mmseg's poly with an absolute floor).
     */
    public void step(ToDoubleFunction<String> lr) {
        step++;
        try (NoGradGuard g = new NoGradGuard()) {
            for (var e : params.entrySet()) {
                Tensor p = e.getValue(), grad = p.grad();
                if (grad == null || !grad.defined()) continue;
                String n = e.getKey();
                double wd = decay.getOrDefault(n, 0.0);
                Tensor d = wd != 0 ? grad.add(p, scalar(wd)) : grad;
                if (momentum != 0) {
                    Tensor buf = buffers.get(n);
                    if (buf == null) {
                        buf = d.clone();
                        buf.retainReference();   // lives across the steps' pointer scopes
                        buffers.put(n, buf);
                    } else {
                        buf.mul_(scalar(momentum)).add_(d, scalar(1 - dampening));
                    }
                    d = nesterov ? d.add(buf, scalar(momentum)) : buf;
                }
                p.add_(d, scalar(-lr.applyAsDouble(n)));
            }
        }
    }

    @Override public Map<String, Map<String, Tensor>> state() { return Map.of(BUFFER, buffers); }

    @Override public String[] stateKinds() { return new String[]{BUFFER}; }

    @Override
    public void restoreState(String kind, String name, Tensor value) {
        if (!kind.equals(BUFFER) || !params.containsKey(name)) throw new IllegalArgumentException(kind + "/" + name);
        Tensor buf = value.clone();
        buf.retainReference();
        buffers.put(name, buf);
    }
}
