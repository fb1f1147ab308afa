package dev.cvpt.model;

import dev.cvpt.engine.Native;
import dev.cvpt.engine.Rand;
import dev.cvpt.engine.Scopes;
import dev.cvpt.engine.Tensors;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.stream.IntStream;

import static dev.cvpt.engine.Linear.linear;
import static dev.cvpt.engine.Tensors.opt;
import static dev.cvpt.engine.Tensors.scalar;
import static org.bytedeco.pytorch.global.torch.bernoulli;
import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.conv2d;
import static org.bytedeco.pytorch.global.torch.full;
import static org.bytedeco.pytorch.global.torch.gelu;
import static org.bytedeco.pytorch.global.torch.layer_norm;
import static org.bytedeco.pytorch.global.torch.matmul;
import static org.bytedeco.pytorch.global.torch.softmax;
import static org.bytedeco.pytorch.global.torch.scaled_dot_product_attention;

/**
 * The timm 0.5.4 ViT, with the hooks the tuning methods need. Parameters are kept under timm
 * names ({@code blocks.3.attn.qkv.weight}); the tuning method decides what each block does with
 * its prompts and which tensors train.
 */
public final class VisionTransformer {
    private final VitConfig cfg;
    private final Map<String, Tensor> params;   // backbone + head, timm names
    private final TuningMethod method;
    private double dropPathRate;                 // stochastic depth: linear 0 → rate over the blocks
    private final Map<String, Tensor> transposed = new ConcurrentHashMap<>();   // frozen Wᵀ, see frozenLinear

    VisionTransformer(VitConfig cfg, Map<String, Tensor> params, TuningMethod method) {
        Native.load();
        this.cfg = cfg;
        this.params = params;
        this.method = method;
    }

    public VitConfig config() { return cfg; }

    public TuningMethod method() { return method; }

    public int numClasses() { return (int) param("head.weight").size(0); }

    public void dropPathRate(double rate) { this.dropPathRate = rate; }

    /** Every parameter: backbone and head under timm names, then the method's own (Prompt_Tokens). */
    public Map<String, Tensor> namedParameters() {
        Map<String, Tensor> all = new LinkedHashMap<>(params);
        all.putAll(method.parameters());
        return Collections.unmodifiableMap(all);
    }

    /** The parameters this method trains, in a stable order; requires_grad is set on exactly these. */
    public Map<String, Tensor> trainableParameters() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        if (method.trainsBackbone()) {
            out.putAll(params);
        } else {
            out.putAll(method.parameters());
            out.put("head.weight", param("head.weight"));
            out.put("head.bias", param("head.bias"));
        }
        return out;
    }

    /** Sets requires_grad on the trainables and clears it everywhere else. */
    public void freeze() {
        Map<String, Tensor> train = trainableParameters();
        namedParameters().forEach((n, t) -> t.set_requires_grad(train.containsKey(n)));
    }

    public Tensor param(String name) {
        Tensor t = params.get(name);
        if (t == null) t = method.parameters().get(name);
        if (t == null) throw new IllegalArgumentException("no parameter " + name);
        return t;
    }

    // ------------------------------------------------------------------ forward

    /** Logits [B,K]. */
    public Tensor forward(Tensor images, boolean training) {
        return head(features(images, training, null));
    }

    public Tensor head(Tensor feat) {
        return linear(feat, param("head.weight"), param("head.bias"));
    }

    /**
     * The final-LayerNorm'd cls token [B,C]. When {@code taps} is given it receives the embedded
     * tokens and the output of every block (for golden comparisons).
     */
    public Tensor features(Tensor images, boolean training, List<Tensor> taps) {
        Tensor x = Scopes.keep(() -> embed(images));
        if (taps != null) taps.add(x);
        Tensor e = x;
        x = Scopes.keep(() -> method.beforeBlocks(this, e, training));
        for (int i = 0; i < cfg.depth(); i++) {
            // only the cls token of the last block reaches the head: unless every block's full output
            // is wanted (taps), the last block computes that one row (its attention still reads all tokens)
            boolean last = i == cfg.depth() - 1 && taps == null;
            Tensor in = x;
            int blk = i;
            // each block in its own scope: its temporaries are freed when it ends (see Scopes)
            x = Scopes.keep(() -> last ? method.lastBlock(this, blk, in, training) : method.block(this, blk, in, training));
            if (taps != null) taps.add(x);
        }
        Tensor cls = x.select(1, 0);
        return layer_norm(cls, new long[]{cfg.dim()}, opt(param("norm.weight")), opt(param("norm.bias")),
                VitConfig.LAYER_NORM_EPS, false);
    }

    /** Patch embedding, cls token and position embedding: [B, 1+N, C]. */
    public Tensor embed(Tensor images) {
        long b = images.size(0);
        int p = cfg.patch();
        Tensor x = conv2d(images, param("patch_embed.proj.weight"), opt(param("patch_embed.proj.bias")),
                new long[]{p, p}, new long[]{0, 0}, new long[]{1, 1}, 1);
        x = x.flatten(2, -1).transpose(1, 2);
        Tensor cls = param("cls_token").expand(b, -1, -1);
        return cat(new TensorVector(cls, x), 1).add(param("pos_embed"));
    }

    /** A plain timm block: x + dp(attn(norm1 x)), then x + dp(mlp(norm2 x)). */
    public Tensor block(int i, Tensor x, boolean training) {
        Tensor y = residual(i, x, training, k -> attnBranch(i, rows(x, k)));
        return residual(i, y, training, k -> mlpBranch(i, rows(y, k)));
    }

    /**
     * Block i for the cls row only: [B,1,C] equal to row 0 of {@link #block}. Every op but the
     * self-attention is row-wise, so only the attention reads all of x (as keys and values).
     */
    public Tensor blockCls(int i, Tensor x, boolean training) {
        Tensor y = residual(i, x.narrow(1, 0, 1), training, k -> attnBranchCls(i, rows(x, k)));
        return residual(i, y, training, k -> mlpBranch(i, rows(y, k)));
    }

    /** Row 0 of attn(norm1(x)): [B,1,C]. */
    public Tensor attnBranchCls(int i, Tensor x) {
        return selfAttention(i, norm(i, 1, x), 1);
    }

    /** attn(norm1(x)). */
    public Tensor attnBranch(int i, Tensor x) {
        return selfAttention(i, norm(i, 1, x));
    }

    /** mlp(norm2(x)). */
    public Tensor mlpBranch(int i, Tensor x) {
        return mlp(i, norm(i, 2, x));
    }

    public Tensor norm(int i, int which, Tensor x) {
        String n = "blocks." + i + ".norm" + which;
        return layer_norm(x, new long[]{cfg.dim()}, opt(param(n + ".weight")), opt(param(n + ".bias")),
                VitConfig.LAYER_NORM_EPS, false);
    }

    public Tensor mlp(int i, Tensor x) {
        String n = "blocks." + i + ".mlp.";
        Tensor h = gelu(frozenLinear(x, n + "fc1", 0, -1));
        return frozenLinear(h, n + "fc2", 0, -1);
    }

    public Tensor selfAttention(int i, Tensor x) {
        return selfAttention(i, x, 0);
    }

    /** Self-attention; with queryRows > 0 only the first queryRows tokens are queries (keys/values: all). */
    public Tensor selfAttention(int i, Tensor x, int queryRows) {
        long b = x.size(0), n = x.size(1);
        int c = cfg.dim(), h = cfg.heads(), d = cfg.headDim();
        String a = "blocks." + i + ".attn.";
        if (queryRows > 0) {
            Tensor q = frozenLinear(x.narrow(1, 0, queryRows), a + "qkv", 0, c)
                    .view(b, queryRows, h, d).transpose(1, 2);
            Tensor kv = frozenLinear(x, a + "qkv", c, 2L * c)
                    .view(b, n, 2, h, d).permute(2, 0, 3, 1, 4);
            Tensor o = sdpa(q, kv.select(0, 0), kv.select(0, 1));
            return frozenLinear(o.transpose(1, 2).reshape(b, queryRows, c), a + "proj", 0, -1);
        }
        Tensor qkv = frozenLinear(x, a + "qkv", 0, -1)
                .view(b, n, 3, h, d).permute(2, 0, 3, 1, 4);
        Tensor o = sdpa(qkv.select(0, 0), qkv.select(0, 1), qkv.select(0, 2));
        return frozenLinear(o.transpose(1, 2).reshape(b, n, c), a + "proj", 0, -1);
    }

    /**
     * CVPT's cross-attention: queries from the tokens x [B,N,C], keys and values from the prompts
     * [B or 1, P, C], with the block's own frozen self-attention weights (views into qkv, never copies).
     *
     * <p>Computed in folded form, which is algebraically the same: per head h, with W_q,h / W_o,h the
     * head's rows of W_q / columns of W_o and k_h, v_h [P,d] the prompts' keys and values,
     * <pre>
     *   q_h k_hᵀ = x (W_q,hᵀ k_hᵀ) + b_q,h k_hᵀ       scores: x [N,C] · A [C, h·P] + c [h·P]
     *   Σ_h softmax_h(..) v_h W_o,hᵀ = attn [N, h·P] · Vo [h·P, C]
     * </pre>
     * A and Vo cost P·C² each per prompt set, instead of the N·C² of each of the q and output
     * projections of the tokens: for P·heads &lt; C (10·12 &lt; 768 in ViT-B) the two N×C×C GEMMs
     * become N×C×(P·heads) ones. {@link #crossAttentionReference} is the unfolded form.
     */
    public Tensor crossAttention(int i, Tensor x, Tensor prompts) {
        long b = x.size(0), n = x.size(1), pb = prompts.size(0), np = prompts.size(1);
        int c = cfg.dim(), h = cfg.heads(), d = cfg.headDim();
        String a = "blocks." + i + ".attn.";
        Tensor w = param(a + "qkv.weight"), bias = param(a + "qkv.bias");
        Tensor kv = frozenLinear(prompts, a + "qkv", c, 2L * c)
                .view(pb, np, 2, h, d);
        Tensor k = kv.select(2, 0), v = kv.select(2, 1);                       // [pb,P,h,d]
        Tensor wq = w.narrow(0, 0, c).view(h, d, c).transpose(1, 2);           // [h,C,d]
        Tensor bq = bias.narrow(0, 0, c).view(h, d);
        Tensor aMat = matmul(wq, k.permute(0, 2, 3, 1))                         // [pb,h,C,P]
                .mul(scalar(1 / Math.sqrt(d))).permute(0, 2, 1, 3).reshape(pb, c, (long) h * np);
        Tensor cVec = k.mul(bq).sum(new long[]{-1}).mul(scalar(1 / Math.sqrt(d)))  // [pb,P,h]
                .transpose(1, 2).reshape(pb, 1, (long) h * np);
        Tensor wo = param(a + "proj.weight").view(c, h, d).permute(1, 2, 0);   // [h,d,C]
        Tensor vo = matmul(v.permute(0, 2, 1, 3), wo).reshape(pb, (long) h * np, c);  // [pb,h·P,C]
        Tensor scores, out;
        if (pb == 1 && b > 1) {  // one prompt set for the whole batch (eval): one GEMM over all tokens
            scores = matmul(x, aMat.select(0, 0)).add(cVec.select(0, 0));
        } else {
            scores = matmul(x, aMat).add(cVec);
        }
        Tensor attn = softmax(scores.view(b, n, h, np), -1).view(b, n, (long) h * np);
        out = pb == 1 && b > 1 ? matmul(attn, vo.select(0, 0)) : matmul(attn, vo);
        return out.add(param(a + "proj.bias"));
    }

    /** The unfolded cross-attention (q and output projections of every token), kept as the reference of the folded one. */
    public Tensor crossAttentionReference(int i, Tensor x, Tensor prompts) {
        long b = x.size(0), n = x.size(1), pb = prompts.size(0), np = prompts.size(1);
        int c = cfg.dim(), h = cfg.heads(), d = cfg.headDim();
        String a = "blocks." + i + ".attn.";
        Tensor q = frozenLinear(x, a + "qkv", 0, c).view(b, n, h, d).transpose(1, 2);
        Tensor kv = frozenLinear(prompts, a + "qkv", c, 2L * c)
                .view(pb, np, 2, h, d).permute(2, 0, 3, 1, 4);
        Tensor k = kv.select(0, 0), v = kv.select(0, 1);
        if (pb != b) {
            k = k.expand(b, -1, -1, -1);
            v = v.expand(b, -1, -1, -1);
        }
        Tensor o = sdpa(q, k, v);
        return frozenLinear(o.transpose(1, 2).reshape(b, n, c), a + "proj", 0, -1);
    }

    /**
     * A backbone linear, rows [from, from+count) of {@code name.weight} / {@code name.bias} (count &lt; 0:
     * all). The weight may be trainable (full fine-tuning); when it is frozen, {@link Linear} may
     * want its transpose for the input gradient, made once per weight and kept (frozen weights never
     * change in place).
     */
    private Tensor frozenLinear(Tensor x, String name, long from, long count) {
        Tensor w = param(name + ".weight"), b = param(name + ".bias");
        if (count >= 0) {
            w = w.narrow(0, from, count);
            b = b.narrow(0, from, count);
        }
        Tensor weight = w;
        return linear(x, w, b, () -> transposed.computeIfAbsent(name + "[" + from + "," + count + "]", k -> {
            Tensor t = weight.t().contiguous();
            t.retainReference();   // outlives the block scope it is made in
            return t;
        }));
    }

    private static Tensor sdpa(Tensor q, Tensor k, Tensor v) {
        return scaled_dot_product_attention(q, k, v);
    }

    /**
     * {@code base + dropPath(branch)}, computing the branch only for the samples stochastic depth
     * keeps. The branch function receives the kept sample indices (null: all samples) and selects
     * its inputs with {@link #rows}. Same random draw and same values as
     * {@code base.add(dropPath(i, branch(all), training))}: kept rows get base + branch/(1-rate),
     * dropped rows base (the plain form adds branch·0/(1-rate) = 0 there).
     */
    public Tensor residual(int i, Tensor base, boolean training, Function<Tensor, Tensor> branch) {
        double rate = dropRate(i);
        if (!training || rate == 0) return base.add(branch.apply(null));
        long b = base.size(0);
        Tensor keep = bernoulli(full(new long[]{b, 1, 1}, scalar(1 - rate)), Rand.generator());
        float[] k = Tensors.toFloats(keep);
        long[] kept = IntStream.range(0, k.length).filter(j -> k[j] != 0).mapToLong(j -> j).toArray();
        if (kept.length == b) return base.add(branch.apply(null).div(scalar(1 - rate)));
        if (kept.length == 0) return base.mul(scalar(1));   // a new tensor, as in the plain form
        Tensor idx = Tensors.fromLongs(kept, kept.length);
        return base.index_add(0, idx, branch.apply(idx).div(scalar(1 - rate)));
    }

    /** The rows idx of a per-sample tensor (all of it for idx null; a tensor of batch 1 is shared by every sample). */
    public static Tensor rows(Tensor t, Tensor idx) {
        return idx == null || t.size(0) == 1 ? t : t.index_select(0, idx);
    }

    private double dropRate(int i) {
        return cfg.depth() == 1 ? 0 : dropPathRate * i / (cfg.depth() - 1);
    }

    /** Stochastic depth for block i: per-sample keep mask, scaled by 1/(1-rate); identity in eval. */
    public Tensor dropPath(int i, Tensor branch, boolean training) {
        double rate = dropRate(i);
        if (!training || rate == 0) return branch;
        Tensor keep = bernoulli(full(new long[]{branch.size(0), 1, 1}, scalar(1 - rate)), Rand.generator());
        return branch.mul(keep).div(scalar(1 - rate));
    }
}
