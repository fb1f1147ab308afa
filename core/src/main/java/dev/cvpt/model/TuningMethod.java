package dev.cvpt.model;

import org.bytedeco.pytorch.Tensor;

import java.util.Map;

/**
 * How a frozen ViT is adapted to a task: the method's own tensors, what trains, and what it does
 * inside each block through {@link BlockHooks}. The model calls the hooks at fixed points; it never
 * asks which method it runs. The head is always the model's {@code head.*}.
 */
public interface TuningMethod {

    /** Short name used in files and on the command line: cvpt, vpt, linear, full, ... */
    String name();

    /** The method's own tensors under their official names (e.g. Prompt_Tokens); may be empty. */
    Map<String, Tensor> parameters();

    /**
     * The method's tensors that are saved in the task file but do not train (e.g. E2VPT's 0/1 pruning
     * masks), under their official names; may be empty.
     */
    default Map<String, Tensor> buffers() { return Map.of(); }

    /**
     * The prompt tensor [L or 1, P, C] that a prototype initialisation ({@code --prompt-init}, see
     * {@link Prototypes}) fills, row i from the tokens entering block i; null when the method has none.
     */
    default Tensor prototypeTarget() { return null; }

    /**
     * The name of one of this model's tensors (ours: {@code prompt_embeddings}, {@code head.weight}) in the
     * state dict of the method's official code, when that differs (recorded in the task file).
     */
    default String officialName(String name) { return name; }

    /**
     * Other names under which the official code's state dict holds some of {@link #parameters()}
     * (alias → official name, e.g. NOAH's {@code adapter.sampled_bias_1} for {@code adapter.ln2.bias}):
     * written to task files too and accepted when reading one.
     */
    default Map<String, String> aliases() { return Map.of(); }

    /** One training step's objective: the logits (for the accuracy) and the loss to minimise. */
    record Objective(Tensor logits, Tensor loss) {}

    /** The training objective of a batch; by default the cross-entropy of the training-mode forward. */
    default Objective trainingObjective(VisionTransformer vit, Tensor images, Tensor labels) {
        Tensor logits = vit.forward(images, true);
        return new Objective(logits, org.bytedeco.pytorch.global.torch.cross_entropy(logits, labels));
    }

    /**
     * Whether the self-attention runs unfused as {@code softmax((q·d^-½)·kᵀ)·v} (timm ≥ 0.9 on torch &lt; 2,
     * the backbone of DyT's official code) instead of scaled_dot_product_attention: the same math,
     * other float rounding, which gradients summed over many tokens can magnify.
     */
    default boolean unfusedAttention() { return false; }

    /** True when every backbone tensor trains (full fine-tuning). */
    default boolean trainsBackbone() { return false; }

    /**
     * The images as the method's official preprocessing would have made them, from the ImageNet
     * mean/std-normalised images every loader produces (e.g. DyT's mean/std 0.5); identity by default.
     */
    default Tensor inputImages(Tensor images) { return images; }

    /** Runs once before block 0 on the embedded tokens [B, 1+N, C] (e.g. shallow VPT appends its prompts). */
    default Tensor beforeBlocks(VisionTransformer vit, Tensor x, boolean training) { return x; }

    /**
     * The hooks of block i for one forward of a batch of {@code batch} samples, made when the block
     * starts (per-block random draws belong here, so that they happen in block order).
     */
    default BlockHooks blockHooks(VisionTransformer vit, int i, long batch, boolean training) { return BlockHooks.NONE; }

    /**
     * Whether the last block may compute the cls row only (the only row the head reads). A method
     * whose training objective reads other rows of the last block returns false.
     */
    default boolean clsOnlyLastBlock() { return true; }
}
