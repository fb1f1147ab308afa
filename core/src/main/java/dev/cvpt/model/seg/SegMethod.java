package dev.cvpt.model.seg;

import org.bytedeco.pytorch.Tensor;

import java.util.Map;

/**
 * How the frozen segmentation backbone is adapted (the segmentation counterpart of
 * {@link dev.cvpt.model.TuningMethod}): what the method adds, what each block does with it, which
 * backbone tensors train. The decode and auxiliary heads always train.
 */
public sealed interface SegMethod permits SegCvpt, SegVpt, SegHeadOnly, SegFull {

    /** cvpt, vpt, head, full. */
    String name();

    /** The method's trainable tensors under the official names (backbone.Prompt_Tokens); may be empty. */
    Map<String, Tensor> parameters();

    /** Frozen tensors of the method that a task file must carry (the stored cross-attention weights). */
    default Map<String, Tensor> frozen() { return Map.of(); }

    /** True when every backbone tensor trains. */
    default boolean trainsBackbone() { return false; }

    /** Block i on the tokens [B, 1+N(+extra), C]. {@code drop}: training noise on. */
    default Tensor block(SegBackbone bb, int i, Tensor x, boolean drop) {
        return bb.mlpResidual(i, bb.attnResidual(i, x, drop), drop);
    }

    /** The patch tokens [B, N, C] of a block's output (cls and any appended prompts dropped). */
    default Tensor patchTokens(Tensor x, long n) { return x.narrow(1, 1, n); }
}
