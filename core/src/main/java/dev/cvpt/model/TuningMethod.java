package dev.cvpt.model;

import org.bytedeco.pytorch.Tensor;

import java.util.Map;

/**
 * How a frozen ViT is adapted to a task: what the method adds (prompt tokens), what each block does
 * with it, and what trains. The head is always the model's {@code head.*}.
 */
public sealed interface TuningMethod permits Cvpt, Vpt, LinearProbe, FullFinetune {

    /** Short name used in files and on the command line: cvpt, vpt, linear, full. */
    String name();

    /** The method's own tensors under their official names (e.g. Prompt_Tokens); may be empty. */
    Map<String, Tensor> parameters();

    /** True when every backbone tensor trains (full fine-tuning). */
    default boolean trainsBackbone() { return false; }

    /** Runs before block 0 on the embedded tokens [B, 1+N, C]. */
    default Tensor beforeBlocks(VisionTransformer vit, Tensor x, boolean training) { return x; }

    /** Block i. */
    default Tensor block(VisionTransformer vit, int i, Tensor x, boolean training) {
        return vit.block(i, x, training);
    }

    /**
     * The last block, for the cls row only ([B,1,C], equal to row 0 of {@link #block}): the only
     * row the head reads. Row-wise ops then run on one token instead of all.
     */
    default Tensor lastBlock(VisionTransformer vit, int i, Tensor x, boolean training) {
        return vit.blockCls(i, x, training);
    }
}
