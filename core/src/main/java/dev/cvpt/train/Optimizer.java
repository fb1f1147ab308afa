package dev.cvpt.train;

import dev.cvpt.engine.Tensors;
import dev.cvpt.io.HostTensor;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.nio.file.Path;
import java.util.Map;

/**
 * A first-order optimizer over named parameters, with torch's semantics ({@link AdamW},
 * {@link Sgd}). Its state (moment buffers and step count) is saved into and restored from the
 * training state under {@code <kind>/<parameter>} names ({@code exp_avg/Prompt_Tokens}, ...).
 */
public sealed interface Optimizer permits AdamW, Sgd {

    /** One update with learning rate lr (each parameter's lr times its multiplier), using .grad(). */
    void step(double lr);

    long stepCount();

    void stepCount(long s);

    /** The parameters it updates, in order. */
    Map<String, Tensor> parameters();

    /** The state tensors by kind ({@code exp_avg}, {@code momentum_buffer}), each by parameter name; only those that exist. */
    Map<String, Map<String, Tensor>> state();

    /** Restores one state tensor (creating it where torch creates it lazily, as SGD's momentum buffer). */
    void restoreState(String kind, String name, Tensor value);

    /** Zeroes the gradients in place (every trainable gets a gradient each step, so this equals set_to_none). */
    default void zeroGrad() {
        try (NoGradGuard g = new NoGradGuard()) {
            for (Tensor p : parameters().values()) {
                Tensor grad = p.grad();
                if (grad != null && grad.defined()) grad.zero_();
            }
        }
    }

    /** Adds the state as {@code kind/name} host tensors. */
    default void saveState(Map<String, HostTensor> out) {
        state().forEach((kind, m) -> m.forEach((n, t) -> out.put(kind + "/" + n, Tensors.toHost(t))));
    }

    /**
     * Restores every state tensor of {@code file} whose kind is one of {@code kinds} and whose
     * parameter is one of ours; a saved tensor of the wrong shape is an error naming the file and tensor.
     */
    default void loadState(Path file, Map<String, HostTensor> saved, String... kinds) {
        for (String kind : kinds) {
            for (String n : parameters().keySet()) {
                HostTensor h = saved.get(kind + "/" + n);
                if (h == null) continue;
                Tensor p = parameters().get(n);
                if (!java.util.Arrays.equals(h.shape(), p.shape()))
                    throw new dev.cvpt.io.CheckpointException(file, kind + "/" + n, "expected shape " + Tensors.shape(p)
                            + ", got " + h.shapeString());
                restoreState(kind, n, Tensors.fromHost(h));
            }
        }
    }

    /** The state kinds this optimizer saves. */
    String[] stateKinds();
}
