package dev.cvpt.model;

import dev.cvpt.engine.Rand;
import org.bytedeco.pytorch.Tensor;

import static dev.cvpt.engine.Tensors.scalar;
import static org.bytedeco.pytorch.global.torch.bernoulli;
import static org.bytedeco.pytorch.global.torch.full;

import static org.bytedeco.pytorch.global.torch.dropout;

/** The prompt-token tensor shared by CVPT and VPT: [L or 1, P, C] under the official name. */
final class Prompts {
    static final String NAME = "Prompt_Tokens";

    private Prompts() {}

    /** Layer i's prompts expanded to the batch, with prompt dropout (an independent mask per sample) in training. */
    static Tensor forBatch(Tensor tokens, int layer, long batch, double dropout, boolean training) {
        Tensor p = tokens.select(0, layer).unsqueeze(0);       // [1,P,C]
        if (training && dropout > 0) {
            Tensor pb = p.expand(batch, -1, -1);
            if (!Rand.local()) return dropout(pb, dropout, true);
            // as torch's dropout (x * mask / (1-p)), drawing from this thread's generator
            Tensor keep = bernoulli(full(pb.shape(), scalar(1 - dropout)), Rand.generator());
            return pb.mul(keep).div(scalar(1 - dropout));
        }
        return p;                                              // [1,P,C]: the caller broadcasts
    }
}
