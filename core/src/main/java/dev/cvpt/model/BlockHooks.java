package dev.cvpt.model;

import org.bytedeco.pytorch.Tensor;

/**
 * What a tuning method does inside one block of one forward pass. {@link TuningMethod#blockHooks}
 * makes one at the start of each block (per-block random draws, such as prompt dropout, happen
 * there); {@link VisionTransformer#block} calls it at fixed points of the timm block:
 * <pre>
 *   x = enter(x)
 *   y = x + dp(attnBranch(x, attn(norm1 x)))         attn: prefix keys/values, linear deltas
 *   y = afterAttention(y)
 *   z = mlpResidual(y, dp(mlpBranch(y)))              default y + dp(mlp(norm2 y)), linear deltas
 *   return exit(z)
 * </pre>
 * Every default leaves the plain block. In the cls-only last block, {@code attnBranch},
 * {@code afterAttention}, {@code mlpBranch} and {@code exit} see the cls row only ({@link #enter}
 * always sees every row, since every row is a key of the attention). Where stochastic depth drops
 * samples, the branch hooks get the kept rows and their indices {@code idx} (null: every sample;
 * select per-sample tensors with {@link VisionTransformer#rows}).
 */
public interface BlockHooks {
    BlockHooks NONE = new BlockHooks() {};

    /** The tokens entering the block, [B,T,C]. */
    default Tensor enter(Tensor x) { return x; }

    /**
     * Extra keys and values for the self-attention, in head space (after the projections and the
     * head split): each [batch or 1, heads, T, headDim], placed before the tokens' keys; null: none.
     */
    default KeyValues attentionPrefix(long batch) { return null; }

    /**
     * A term added to the output of frozen linear {@code name} of this block ({@code attn.qkv},
     * {@code attn.proj}, {@code mlp.fc1}, {@code mlp.fc2}) for input x: output features
     * [from, from+count) of the layer (count &lt; 0: all). Null: none. Under
     * {@link dev.cvpt.engine.Precision#BF16} the input of {@code mlp.fc2} arrives in bf16 (a delta on it
     * converts x to fp32 first); the others' inputs are fp32.
     */
    default Tensor linearDelta(String name, Tensor x, long from, long count) { return null; }

    /** The attention branch before drop-path: {@code a = attn(norm1 x)} for the query rows {@code x}. */
    default Tensor attnBranch(Tensor x, Tensor a, Tensor idx) { return a; }

    /** The stream after the attention residual. */
    default Tensor afterAttention(Tensor y) { return y; }

    /** The MLP branch before drop-path for the stream rows {@code y}: by default {@code mlp(norm2 y)}. */
    default Tensor mlpBranch(Block block, Tensor y, Tensor idx) { return block.mlp(block.norm2(y)); }

    /**
     * The stream after the MLP residual from the stream before it {@code y} (every sample) and the
     * MLP branch after drop-path {@code m} (every sample; zero rows where stochastic depth dropped
     * one): by default {@code y + m}. For terms that drop-path must not touch or that act on the
     * drop-path'ed branch (serial adapters).
     */
    default Tensor mlpResidual(Tensor y, Tensor m) { return y.add(m); }

    /** The stream leaving the block. */
    default Tensor exit(Tensor z) { return z; }

    /**
     * This hook's work in a form that a composite of several tasks' hooks ({@link TaskGroups}) can run
     * once over the rows of all of them; null (the default): the composite calls this hook on its
     * task's rows. See {@link Batchable}.
     */
    default Batchable batchable() { return null; }

    /**
     * A hook's work as one operation with per-task operands (e.g. CVPT's cross-attention at one hook
     * point, with each task's prompts), so that a mixed-task batch runs it once for all its rows
     * instead of once per task (narrow, apply, concatenate).
     */
    interface Batchable {
        /** Batchables with equal keys are the same operation (same method, same hook point) with other operands. */
        Object key();

        /**
         * One hook for every row of a batch whose group j has {@code rows[j]} consecutive rows and,
         * as {@code parts.get(j)}, a batchable of this key, or null for a group whose hooks do
         * nothing (override no hook: its rows must come through unchanged). Same values, to float
         * rounding, as each group's own hook on its rows.
         */
        BlockHooks merge(java.util.List<? extends Batchable> parts, long[] rows);
    }

    /** Extra keys and values of an attention, in head space. */
    record KeyValues(Tensor keys, Tensor values) {}

    /** Block {@code index} of {@code vit} as the hooks see it: its frozen pieces, with the hooks' linear deltas. */
    record Block(VisionTransformer vit, int index, BlockHooks hooks) {
        public Tensor norm1(Tensor x) { return vit.norm(index, 1, x); }

        public Tensor norm2(Tensor x) { return vit.norm(index, 2, x); }

        /** fc2(gelu(fc1 h)) with the hooks' deltas on fc1 and fc2. */
        public Tensor mlp(Tensor h) { return vit.mlp(index, h, hooks); }
    }
}
