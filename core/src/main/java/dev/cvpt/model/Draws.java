package dev.cvpt.model;

import dev.cvpt.engine.Rand;
import org.bytedeco.pytorch.Tensor;

import java.util.LinkedHashMap;
import java.util.Map;

import static dev.cvpt.engine.Tensors.scalar;
import static org.bytedeco.pytorch.global.torch.bernoulli;
import static org.bytedeco.pytorch.global.torch.empty;
import static org.bytedeco.pytorch.global.torch.full;

/**
 * The random draws of a method's training-mode forward (dropout masks, Gumbel noise), by name.
 * Normally drawn from this thread's generator ({@link Rand}); a golden check gives the oracle's
 * draws instead ({@code noise/<name>} arrays of a case), which are then used wherever that name is
 * drawn. A given array with more rows (dim 1) than the tensor it applies to is cut to its first rows
 * (a block computing the cls row only).
 */
public final class Draws {
    /** A method whose training forward draws through a {@link Draws}. */
    public interface Source {
        Draws draws();
    }

    private volatile Map<String, Tensor> given = Map.of();

    /** Use these arrays instead of drawing (null or empty: draw). */
    public void give(Map<String, Tensor> arrays) {
        given = arrays == null ? Map.of() : new LinkedHashMap<>(arrays);
    }

    public boolean hasGiven() { return !given.isEmpty(); }

    /** The given array {@code name} shaped for {@code like} (its first rows), or null. */
    public Tensor given(String name, Tensor like) {
        Tensor t = given.get(name);
        if (t == null) return null;
        if (t.dim() >= 2 && like.dim() >= 2 && t.size(1) > like.size(1)) t = t.narrow(1, 0, like.size(1));
        return t;
    }

    /**
     * Dropout of {@code x} with drop probability p in training (identity otherwise): x·keep/(1−p).
     * A given mask {@code name} holds keep/(1−p) (the values torch's dropout multiplies by).
     */
    public Tensor dropout(String name, Tensor x, double p, boolean training) {
        if (!training || p == 0) return x;
        Tensor m = given(name, x);
        return x.mul(m != null ? m : keep(x.shape(), p).div(scalar(1 - p)));
    }

    /** A 0/1 keep mask (1 with probability 1−p); a given {@code name} holds the 0/1 values. */
    public Tensor keepMask(String name, Tensor like, double p) {
        Tensor m = given(name, like);
        return m != null ? m : keep(like.shape(), p);
    }

    /** Gumbel(0,1) noise shaped like {@code like}, drawn as −log(Exp(1)) (as the official DyT code). */
    public Tensor gumbel(String name, Tensor like) {
        Tensor g = given(name, like);
        if (g != null) return g;
        return empty(like.shape()).exponential_(1, Rand.generator()).log().neg();
    }

    private static Tensor keep(long[] shape, double p) {
        return bernoulli(full(shape, scalar(1 - p)), Rand.generator());
    }
}
