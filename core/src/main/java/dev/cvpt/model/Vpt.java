package dev.cvpt.model;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;

import java.util.Map;

import static org.bytedeco.pytorch.global.torch.cat;

/**
 * Visual Prompt Tuning as in the official CVPT repository's VPT.py. Deep: before every block the
 * prompt slots after the 1+N tokens are replaced by that layer's prompts (with prompt dropout).
 * Shallow: the prompts are appended once before block 0 (no dropout) and kept through all blocks.
 */
public record Vpt(Tensor tokens, double dropout) implements TuningMethod {

    public boolean deep() { return tokens.size(0) > 1; }

    public int prompts() { return (int) tokens.size(1); }

    @Override public String name() { return "vpt"; }

    @Override public Map<String, Tensor> parameters() { return Map.of(Prompts.NAME, tokens); }

    @Override public Tensor prototypeTarget() { return tokens; }

    @Override
    public Tensor beforeBlocks(VisionTransformer vit, Tensor x, boolean training) {
        if (deep()) return x;
        Tensor p = tokens.select(0, 0).unsqueeze(0).expand(x.size(0), -1, -1);
        return cat(new TensorVector(x, p), 1);
    }

    /** Deep: the prompt slots after the 1+N tokens replaced by layer i's prompts; shallow: no hooks. */
    @Override
    public BlockHooks blockHooks(VisionTransformer vit, int i, long batch, boolean training) {
        if (!deep()) return BlockHooks.NONE;
        Tensor p = Prompts.forBatch(tokens, i, batch, dropout, training).expand(batch, -1, -1);
        int tokensIn = vit.config().tokens();
        return new BlockHooks() {
            @Override public Tensor enter(Tensor x) { return cat(new TensorVector(x.narrow(1, 0, tokensIn), p), 1); }
        };
    }
}
