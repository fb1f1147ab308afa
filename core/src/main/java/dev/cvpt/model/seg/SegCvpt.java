package dev.cvpt.model.seg;

import org.bytedeco.pytorch.Tensor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.cvpt.engine.Linear.linear;
import static org.bytedeco.pytorch.global.torch.scaled_dot_product_attention;

/**
 * CVPT in the segmentation backbone, insert 3 as the official vit.py: after each block's self-attention
 * residual, {@code x = x + proj_drop(CA(x, P_i))} (no norm, no drop-path), then the FFN. CA: queries from
 * every token, keys/values from the layer's prompts (prompt dropout per sample), softmax over the prompts.
 *
 * @param tokens  backbone.Prompt_Tokens [L, P, C]
 * @param ca      per block the CA's frozen weights: views into qkv/proj (shared) or tensors of their own (stored)
 * @param cross   which of the two
 * @param dropout prompt dropout in training (official 0.1)
 */
public record SegCvpt(Tensor tokens, List<Ca> ca, CrossWeights cross, double dropout) implements SegMethod {
    public static final String PROMPTS = "backbone.Prompt_Tokens";

    /** One block's cross-attention linears (weight [C,C], bias [C]). */
    public record Ca(Tensor qw, Tensor qb, Tensor kw, Tensor kb, Tensor vw, Tensor vb, Tensor pw, Tensor pb) {
        Tensor[] all() { return new Tensor[]{qw, qb, kw, kb, vw, vb, pw, pb}; }
    }

    /** Official names of block i's stored cross-attention tensors, in {@link Ca} order. */
    public static List<String> crossNames(int i) {
        String b = "backbone.layers." + i + ".cross.";
        return List.of(b + "q.weight", b + "q.bias", b + "k.weight", b + "k.bias", b + "v.weight", b + "v.bias",
                b + "proj.weight", b + "proj.bias");
    }

    @Override public String name() { return "cvpt"; }

    @Override public Map<String, Tensor> parameters() { return Map.of(PROMPTS, tokens); }

    @Override
    public Map<String, Tensor> frozen() {
        if (cross == CrossWeights.SHARED) return Map.of();
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (int i = 0; i < ca.size(); i++) {
            List<String> n = crossNames(i);
            Tensor[] t = ca.get(i).all();
            for (int j = 0; j < t.length; j++) m.put(n.get(j), t[j]);
        }
        return m;
    }

    @Override
    public Tensor block(SegBackbone bb, int i, Tensor x, boolean drop) {
        Tensor y = bb.attnResidual(i, x, drop);
        Tensor p = layerPrompts(tokens, i, x.size(0), dropout, drop);
        Tensor z = y.add(SegOps.dropout(crossAttention(bb, i, y, p), bb.dropRate(), drop));
        return bb.mlpResidual(i, z, drop);
    }

    /** CrossAttention (vit.py:20-52): q from x [B,N,C], k/v from the prompts [B or 1,P,C], scale d^-0.5, then proj. */
    Tensor crossAttention(SegBackbone bb, int i, Tensor x, Tensor prompts) {
        Ca w = ca.get(i);
        long b = x.size(0), n = x.size(1), pb = prompts.size(0), np = prompts.size(1);
        int c = bb.config().dim(), h = bb.config().heads(), d = c / h;
        Tensor q = linear(x, w.qw(), w.qb()).view(b, n, h, d).transpose(1, 2);
        Tensor k = linear(prompts, w.kw(), w.kb()).view(pb, np, h, d).transpose(1, 2);
        Tensor v = linear(prompts, w.vw(), w.vb()).view(pb, np, h, d).transpose(1, 2);
        if (pb != b) {
            k = k.expand(b, -1, -1, -1);
            v = v.expand(b, -1, -1, -1);
        }
        Tensor o = scaled_dot_product_attention(q, k, v);
        return linear(o.transpose(1, 2).reshape(b, n, c), w.pw(), w.pb());
    }

    /** Layer i's prompts [1,P,C], or [B,P,C] with an independent dropout mask per sample in training. */
    static Tensor layerPrompts(Tensor tokens, int i, long batch, double p, boolean drop) {
        Tensor t = tokens.select(0, i).unsqueeze(0);
        if (!drop || p == 0) return t;
        return SegOps.dropout(t.expand(batch, -1, -1), p, true);
    }
}
