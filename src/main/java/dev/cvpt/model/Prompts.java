package dev.cvpt.model;

import org.bytedeco.pytorch.Tensor;

import static org.bytedeco.pytorch.global.torch.dropout;

/** The prompt-token tensor shared by CVPT and VPT: [L or 1, P, C] under the official name. */
final class Prompts {
    static final String NAME = "Prompt_Tokens";

    private Prompts() {}

    /** Layer i's prompts expanded to the batch, with prompt dropout (an independent mask per sample) in training. */
    static Tensor forBatch(Tensor tokens, int layer, long batch, double dropout, boolean training) {
        Tensor p = tokens.select(0, layer).unsqueeze(0);       // [1,P,C]
        if (training && dropout > 0) return dropout(p.expand(batch, -1, -1), dropout, true);
        return p;                                              // [1,P,C]: the caller broadcasts
    }
}
