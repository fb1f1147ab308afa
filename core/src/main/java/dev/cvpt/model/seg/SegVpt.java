package dev.cvpt.model.seg;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;

import java.util.Map;

import static org.bytedeco.pytorch.global.torch.cat;

/**
 * VPT-deep as a segmentation baseline (the official seg code has none; this follows the classification
 * VPT.py): before block i the prompt slots after the 1+N tokens are replaced by layer i's prompts (prompt
 * dropout in training); the outputs keep the N patch tokens only.
 */
public record SegVpt(Tensor tokens, double dropout) implements SegMethod {
    public static final String NAME = SegCvpt.PROMPTS;

    @Override public String name() { return "vpt"; }

    @Override public Map<String, Tensor> parameters() { return Map.of(NAME, tokens); }

    @Override
    public Tensor block(SegBackbone bb, int i, Tensor x, boolean drop) {
        long b = x.size(0), keep = i == 0 ? x.size(1) : x.size(1) - tokens.size(1);   // cls + patches
        Tensor p = SegCvpt.layerPrompts(tokens, i, b, dropout, drop).expand(b, -1, -1);
        Tensor in = cat(new TensorVector(x.narrow(1, 0, keep), p), 1);
        return SegMethod.super.block(bb, i, in, drop);
    }
}
