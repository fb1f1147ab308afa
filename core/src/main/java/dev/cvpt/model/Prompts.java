package dev.cvpt.model;

import dev.cvpt.engine.Rand;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;

import static dev.cvpt.engine.Tensors.scalar;
import static org.bytedeco.pytorch.global.torch.bernoulli;
import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.full;

/** Prompt tensors [L or 1, P, C] and where they go in the token sequence, shared by the prompt methods. */
final class Prompts {
    static final String NAME = "Prompt_Tokens";

    private Prompts() {}

    /** Layer i's prompts expanded to the batch, with prompt dropout (an independent mask per sample) in training. */
    static Tensor forBatch(Tensor tokens, int layer, long batch, double dropout, boolean training) {
        return dropout(tokens.select(0, layer).unsqueeze(0), batch, dropout, training);
    }

    /** Prompt dropout of p [1,P,C] expanded to [B,P,C] in training; p itself (broadcast by the caller) otherwise. */
    static Tensor dropout(Tensor p, long batch, double rate, boolean training) {
        if (training && rate > 0) {
            Tensor pb = p.expand(batch, -1, -1);
            if (!Rand.local()) return org.bytedeco.pytorch.global.torch.dropout(pb, rate, true);
            // as torch's dropout (x * mask / (1-p)), drawing from this thread's generator
            Tensor keep = bernoulli(full(pb.shape(), scalar(1 - rate)), Rand.generator());
            return pb.mul(keep).div(scalar(1 - rate));
        }
        return p;                                              // [1,P,C]: the caller broadcasts
    }

    /** {@code [CLS, p, rest]}: prompts p [B or 1, P, C] inserted after the class token of x [B, 1+N, C]. */
    static Tensor afterCls(Tensor x, Tensor p) {
        long b = x.size(0);
        return cat(new TensorVector(x.narrow(1, 0, 1), p.expand(b, -1, -1), x.narrow(1, 1, x.size(1) - 1)), 1);
    }

    /** The prompt slots 1..P of x [B, 1+P+N, C] replaced by p [B or 1, P, C]. */
    static Tensor replaceAfterCls(Tensor x, Tensor p) {
        long b = x.size(0), np = p.size(1);
        return cat(new TensorVector(x.narrow(1, 0, 1), p.expand(b, -1, -1), x.narrow(1, 1 + np, x.size(1) - 1 - np)), 1);
    }
}
