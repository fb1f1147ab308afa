package dev.cvpt.model;

import dev.cvpt.engine.Attention;
import dev.cvpt.engine.Linear;
import dev.cvpt.engine.Native;
import dev.cvpt.engine.Precision;
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
import static org.bytedeco.pytorch.global.torch.zeros_like;

/**
 * The timm 0.5.4 ViT, with the hooks the tuning methods need. Parameters are kept under timm
 * names ({@code blocks.3.attn.qkv.weight}); the tuning method decides what each block does with
 * its prompts and which tensors train.
 */
public final class VisionTransformer {
    private final VitConfig cfg;
    private final Map<String, Tensor> params;   // backbone + head, timm names
    private final TuningMethod method;
    private final Map<String, Tensor> lowWeights;   // bf16 copies of the frozen block linears (Precision.BF16), else empty
    private double dropPathRate;                 // stochastic depth: linear 0 → rate over the blocks
    private final Map<String, Tensor> transposed = new ConcurrentHashMap<>();   // frozen Wᵀ, see frozenLinear
    private volatile Map<List<Long>, FoldedPrompts> promptCache;                 // see cachePrompts; null: off

    VisionTransformer(VitConfig cfg, Map<String, Tensor> params, TuningMethod method) {
        this(cfg, params, method, Map.of());
    }

    VisionTransformer(VitConfig cfg, Map<String, Tensor> params, TuningMethod method, Map<String, Tensor> lowWeights) {
        Native.load();
        this.cfg = cfg;
        this.params = params;
        this.method = method;
        this.lowWeights = lowWeights;
    }

    public VitConfig config() { return cfg; }

    /** The same backbone and head (shared, not copied) with another instance of the method, e.g. one given its random draws. */
    public VisionTransformer withMethod(TuningMethod m) {
        VisionTransformer v = new VisionTransformer(cfg, params, m, lowWeights);
        v.dropPathRate = dropPathRate;
        return v;
    }

    public TuningMethod method() { return method; }

    /** The bf16 copies of the frozen block linears (empty under fp32), shared by the models on one backbone. */
    Map<String, Tensor> lowWeights() { return lowWeights; }

    /** The format of the frozen block linears' products: BF16 when the backbone was loaded with bf16 copies of them. */
    public Precision precision() { return lowWeights.isEmpty() ? Precision.FP32 : Precision.BF16; }

    public int numClasses() { return (int) param("head.weight").size(0); }

    public void dropPathRate(double rate) { this.dropPathRate = rate; }

    /** Every parameter: backbone and head under timm names, then the method's own (Prompt_Tokens). */
    public Map<String, Tensor> namedParameters() {
        Map<String, Tensor> all = new LinkedHashMap<>(params);
        all.putAll(method.parameters());
        all.putAll(method.buffers());
        return Collections.unmodifiableMap(all);
    }

    /** What a task file holds: the trainables, then the method's frozen buffers (e.g. pruning masks). */
    public Map<String, Tensor> savedParameters() {
        Map<String, Tensor> out = new LinkedHashMap<>(trainableParameters());
        out.putAll(method.buffers());
        return out;
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
        if (t == null) t = method.buffers().get(name);
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
        Tensor x = Scopes.keep(() -> embed(method.inputImages(images)));
        if (taps != null) taps.add(x);
        Tensor e = x;
        x = Scopes.keep(() -> method.beforeBlocks(this, e, training));
        for (int i = 0; i < cfg.depth(); i++) {
            // only the cls token of the last block reaches the head: unless every block's full output
            // is wanted (taps), the last block computes that one row (its attention still reads all tokens)
            boolean clsOnly = i == cfg.depth() - 1 && taps == null && method.clsOnlyLastBlock();
            Tensor in = x;
            int blk = i;
            // each block in its own scope: its temporaries are freed when it ends (see Scopes)
            x = Scopes.keep(() -> runBlock(blk, in, training, clsOnly));
            if (taps != null) taps.add(x);
        }
        Tensor cls = x.select(1, 0);
        return layer_norm(cls, new long[]{cfg.dim()}, opt(param("norm.weight")), opt(param("norm.bias")),
                VitConfig.LAYER_NORM_EPS, false);
    }

    /** The patch embedding alone: [B, N, C] (no class token, no position embedding). */
    public Tensor patchTokens(Tensor images) {
        int p = cfg.patch();
        Tensor x = conv2d(images, param("patch_embed.proj.weight"), opt(param("patch_embed.proj.bias")),
                new long[]{p, p}, new long[]{0, 0}, new long[]{1, 1}, 1);
        return x.flatten(2, -1).transpose(1, 2);
    }

    /** Patch embedding, cls token and position embedding: [B, 1+N, C]. */
    public Tensor embed(Tensor images) {
        long b = images.size(0);
        Tensor x = patchTokens(images);
        Tensor cls = param("cls_token").expand(b, -1, -1);
        return cat(new TensorVector(cls, x), 1).add(param("pos_embed"));
    }

    /**
     * Block i with the method's hooks for this batch (made here, so per-block random draws happen in
     * block order); {@code clsOnly}: the cls row only, as {@link #blockCls}.
     */
    public Tensor runBlock(int i, Tensor x, boolean training, boolean clsOnly) {
        BlockHooks h = method.blockHooks(this, i, x.size(0), training);
        return clsOnly ? blockCls(i, x, training, h) : block(i, x, training, h);
    }

    /** A plain timm block: x + dp(attn(norm1 x)), then x + dp(mlp(norm2 x)). */
    public Tensor block(int i, Tensor x, boolean training) {
        return block(i, x, training, BlockHooks.NONE);
    }

    /** Block i with hooks (see {@link BlockHooks} for where each is called). */
    public Tensor block(int i, Tensor x, boolean training, BlockHooks h) {
        Tensor in = h.enter(x);
        Tensor y = h.afterAttention(residual(i, in, training, k -> {
            Tensor r = rows(in, k);
            return h.attnBranch(r, selfAttention(i, norm(i, 1, r), 0, h), k);
        }));
        return h.exit(mlpResidual(i, y, training, h));
    }

    /**
     * Block i for the cls row only: [B,1,C] equal to row 0 of {@link #block}. Every op but the
     * self-attention is row-wise, so only the attention reads all of x (as keys and values).
     */
    public Tensor blockCls(int i, Tensor x, boolean training, BlockHooks h) {
        Tensor in = h.enter(x);
        Tensor in0 = in.narrow(1, 0, 1);
        Tensor y = h.afterAttention(residual(i, in0, training,
                k -> h.attnBranch(rows(in0, k), selfAttention(i, norm(i, 1, rows(in, k)), 1, h), k)));
        return h.exit(mlpResidual(i, y, training, h));
    }

    /** {@code hooks.mlpResidual(y, dropPath(mlpBranch(y)))}, the branch computed only for the samples stochastic depth keeps. */
    private Tensor mlpResidual(int i, Tensor y, boolean training, BlockHooks h) {
        return h.mlpResidual(y, dropPathBranch(i, y, training, k -> h.mlpBranch(new BlockHooks.Block(this, i, h), rows(y, k), k)));
    }

    /**
     * {@code dropPath(branch)} for every sample of {@code base}, computing the branch only for the kept
     * samples (see {@link #residual}; the dropped rows are zeros). {@code base + dropPathBranch(..)}
     * has the values of {@link #residual}, bit for bit.
     */
    public Tensor dropPathBranch(int i, Tensor base, boolean training, Function<Tensor, Tensor> branch) {
        double rate = dropRate(i);
        if (!training || rate == 0) return branch.apply(null);
        long b = base.size(0);
        Tensor keep = bernoulli(full(new long[]{b, 1, 1}, scalar(1 - rate)), Rand.generator());
        float[] k = Tensors.toFloats(keep);
        long[] kept = IntStream.range(0, k.length).filter(j -> k[j] != 0).mapToLong(j -> j).toArray();
        if (kept.length == b) return branch.apply(null).div(scalar(1 - rate));
        if (kept.length == 0) return zeros_like(base);
        Tensor idx = Tensors.fromLongs(kept, kept.length);
        return zeros_like(base).index_add(0, idx, branch.apply(idx).div(scalar(1 - rate)));
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
        return mlp(i, x, BlockHooks.NONE);
    }

    /** fc2(gelu(fc1 x)), with the hooks' deltas on fc1 and fc2. */
    public Tensor mlp(int i, Tensor x, BlockHooks hooks) {
        if (!TaskGroups.anyOverrides(List.of(hooks), "linearDelta")) {   // inference: fc1 → GELU → fc2 fused on oneDNN
            String n = "blocks." + i + ".mlp.";
            FrozenLinear fc1 = frozenWeights(n + "fc1"), fc2 = frozenWeights(n + "fc2");
            Tensor y = Linear.mlpNoGrad(x, fc1.weight(), fc1.bias(), fc2.weight(), fc2.bias());
            if (y != null) return y;
        }
        // in bf16, fc1's output stays bf16 through the GELU (computed in fp32 inside, rounded once) into
        // fc2, which rounds its input to bf16 anyway: the same values without two conversion passes
        Tensor h = gelu(frozenLinear(i, x, "mlp.fc1", 0, -1, hooks, true));
        return frozenLinear(i, h, "mlp.fc2", 0, -1, hooks);
    }

    /** A block linear's weight and bias as its products use them. */
    private record FrozenLinear(Tensor weight, Tensor bias) {}

    /**
     * Linear {@code name}'s weight and bias: under {@link Precision#BF16} their bf16 copies when the
     * weight is frozen (the products run on them), else the parameters themselves.
     */
    private FrozenLinear frozenWeights(String name) {
        Tensor w = param(name + ".weight"), low = lowWeights.get(name + ".weight");
        return low != null && !w.requires_grad() ? new FrozenLinear(low, lowWeights.get(name + ".bias"))
                : new FrozenLinear(w, param(name + ".bias"));
    }

    public Tensor selfAttention(int i, Tensor x) {
        return selfAttention(i, x, 0, BlockHooks.NONE);
    }

    /**
     * Self-attention; with queryRows &gt; 0 only the first queryRows tokens are queries (keys/values: all).
     * The hooks may add keys and values before the tokens' (in head space) and deltas to qkv and proj.
     */
    public Tensor selfAttention(int i, Tensor x, int queryRows, BlockHooks hooks) {
        long b = x.size(0), n = x.size(1);
        int c = cfg.dim(), h = cfg.heads(), d = cfg.headDim();
        long rowsOut = queryRows > 0 ? queryRows : n;
        BlockHooks.KeyValues prefix = hooks.attentionPrefix(b);
        Tensor q, k, v;
        if (queryRows > 0) {
            q = frozenLinear(i, x.narrow(1, 0, queryRows), "attn.qkv", 0, c, hooks)
                    .view(b, queryRows, h, d).transpose(1, 2);
            Tensor kv = frozenLinear(i, x, "attn.qkv", c, 2L * c, hooks)
                    .view(b, n, 2, h, d).permute(2, 0, 3, 1, 4);
            k = kv.select(0, 0);
            v = kv.select(0, 1);
        } else {
            Tensor packed = frozenLinear(i, x, "attn.qkv", 0, -1, hooks);
            if (!method.unfusedAttention() && prefix == null) {
                Tensor o = Attention.selfAttention(packed, h);   // our kernel, where it applies
                if (o != null) return frozenLinear(i, o, "attn.proj", 0, -1, hooks);
            }
            Tensor qkv = packed.view(b, n, 3, h, d).permute(2, 0, 3, 1, 4);
            q = qkv.select(0, 0);
            k = qkv.select(0, 1);
            v = qkv.select(0, 2);
        }
        if (prefix != null) {
            k = cat(new TensorVector(prefix.keys().expand(b, -1, -1, -1), k), 2);
            v = cat(new TensorVector(prefix.values().expand(b, -1, -1, -1), v), 2);
        }
        Tensor o = sdpa(q, k, v);
        return frozenLinear(i, o.transpose(1, 2).reshape(b, rowsOut, c), "attn.proj", 0, -1, hooks);
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
        return crossAttention(i, x, folded(i, prompts));
    }

    /** The {@link FoldedPrompts} of a prompt set in block i: from the prompt cache when it is on, else computed. */
    public FoldedPrompts folded(int i, Tensor prompts) {
        Map<List<Long>, FoldedPrompts> cache = promptCache;
        return cache == null ? foldPrompts(i, prompts)
                : cache.computeIfAbsent(List.of((long) i, prompts.data_ptr().address(), prompts.size(0), prompts.size(1),
                        prompts.stride(0), prompts.stride(1)), k -> FoldedPrompts.retained(foldPrompts(i, prompts)));
    }

    /**
     * {@link #crossAttention(int, Tensor, Tensor)} from folded prompts: one set for the batch
     * ([1,..]) or one per row ([B,..], e.g. each row's task's set gathered: one batched GEMM each).
     */
    public Tensor crossAttention(int i, Tensor x, FoldedPrompts f) {
        long b = x.size(0), n = x.size(1);
        int h = cfg.heads();
        long pb = f.a().size(0), np = f.a().size(2) / h;
        Tensor scores, out;
        if (pb == 1 && b > 1) {  // one prompt set for the whole batch (eval): one GEMM over all tokens
            scores = product(x, f.a().select(0, 0)).add(f.c().select(0, 0));
        } else {
            scores = product(x, f.a()).add(f.c());
        }
        Tensor attn = promptSoftmax(scores.view(b, n, h, np)).view(b, n, (long) h * np);
        out = pb == 1 && b > 1 ? product(attn, f.vo().select(0, 0)) : product(attn, f.vo());
        return out.add(param("blocks." + i + ".attn.proj.bias"));
    }

    /**
     * Softmax over the prompts (the last dimension). libtorch's kernel vectorizes along that dimension,
     * which is P = 10 wide here: written as {@code exp(s − max) / Σ} (four whole-tensor passes) it runs
     * 6× faster (3.0 vs 0.5 ms on [8, 197, 12, 10], one core), equal up to rounding (3.6e-7). Only
     * where no gradient is wanted and P &lt; 16; under autograd the fused op (its backward is one node).
     */
    private static Tensor promptSoftmax(Tensor s) {
        if (s.size(-1) >= 16 || Tensors.needsGrad(s)) return softmax(s, -1);
        Tensor e = s.sub(s.amax(new long[]{-1}, true)).exp_();
        return e.div_(e.sum(new long[]{-1}, true, new org.bytedeco.pytorch.ScalarTypeOptional()));
    }

    /**
     * {@code matmul(x, m)} for the cross-attention's products (the two on the tokens, and the two that
     * fold the prompts with W_q and W_o): under {@link Precision#BF16} both sides rounded to bf16 and
     * multiplied with fp32 accumulation (oneDNN), the result in fp32, as the backbone's linears; the
     * softmax between them stays fp32.
     */
    private Tensor product(Tensor x, Tensor m) {
        return lowWeights.isEmpty() ? matmul(x, m) : Linear.bf16Matmul(x, m);
    }

    /**
     * The input-free part of {@link #crossAttention} for one prompt set [pb,P,C]: A [pb,C,h·P]
     * (with the 1/√d scale), c [pb,1,h·P] and Vo [pb,h·P,C].
     */
    public record FoldedPrompts(Tensor a, Tensor c, Tensor vo) {
        public long bytes() { return (a.numel() + c.numel() + vo.numel()) * a.element_size(); }

        static FoldedPrompts retained(FoldedPrompts f) {
            f.a.retainReference();
            f.c.retainReference();
            f.vo.retainReference();
            return f;
        }
    }

    public FoldedPrompts foldPrompts(int i, Tensor prompts) {
        long pb = prompts.size(0), np = prompts.size(1);
        int c = cfg.dim(), h = cfg.heads(), d = cfg.headDim();
        String a = "blocks." + i + ".attn.";
        Tensor w = frozenWeights(a + "qkv").weight(), bias = param(a + "qkv.bias");   // under bf16 the weight's bf16 copy
        Tensor kv = frozenLinear(i, prompts, "attn.qkv", c, 2L * c, BlockHooks.NONE)
                .view(pb, np, 2, h, d);
        Tensor k = kv.select(2, 0), v = kv.select(2, 1);                       // [pb,P,h,d]
        Tensor wq = w.narrow(0, 0, c).view(h, d, c).transpose(1, 2);           // [h,C,d]
        Tensor bq = bias.narrow(0, 0, c).view(h, d);
        Tensor aMat = product(wq, k.permute(0, 2, 3, 1))                        // [pb,h,C,P]
                .mul(scalar(1 / Math.sqrt(d))).permute(0, 2, 1, 3).reshape(pb, c, (long) h * np);
        Tensor cVec = k.mul(bq).sum(new long[]{-1}).mul(scalar(1 / Math.sqrt(d)))  // [pb,P,h]
                .transpose(1, 2).reshape(pb, 1, (long) h * np);
        Tensor wo = frozenWeights(a + "proj").weight().view(c, h, d).permute(1, 2, 0);  // [h,d,C]
        Tensor vo = product(v.permute(0, 2, 1, 3), wo).reshape(pb, (long) h * np, c);  // [pb,h·P,C]
        return new FoldedPrompts(aMat, cVec, vo);
    }

    /**
     * Inference only: keeps the {@link FoldedPrompts} of every prompt set {@link #crossAttention}
     * sees (keyed by block, storage address and shape of the prompts), so that they are computed once
     * instead of in every forward. The caller promises that the prompts do not change while the cache
     * is on (a serving task's frozen tensors). Off by default; off again frees the cached tensors.
     */
    public synchronized void cachePrompts(boolean on) {
        Map<List<Long>, FoldedPrompts> old = promptCache;
        promptCache = on ? (old != null ? old : new ConcurrentHashMap<>()) : null;
        if (!on && old != null) {
            for (FoldedPrompts f : old.values()) {
                f.a().releaseReference();
                f.c().releaseReference();
                f.vo().releaseReference();
            }
            old.clear();
        }
    }

    /** Bytes held by the prompt cache (0 when off). */
    public long cachedPromptBytes() {
        Map<List<Long>, FoldedPrompts> cache = promptCache;
        return cache == null ? 0 : cache.values().stream().mapToLong(FoldedPrompts::bytes).sum();
    }

    /** The unfolded cross-attention (q and output projections of every token), kept as the reference of the folded one. */
    public Tensor crossAttentionReference(int i, Tensor x, Tensor prompts) {
        long b = x.size(0), n = x.size(1), pb = prompts.size(0), np = prompts.size(1);
        int c = cfg.dim(), h = cfg.heads(), d = cfg.headDim();
        Tensor q = frozenLinear(i, x, "attn.qkv", 0, c, BlockHooks.NONE).view(b, n, h, d).transpose(1, 2);
        Tensor kv = frozenLinear(i, prompts, "attn.qkv", c, 2L * c, BlockHooks.NONE)
                .view(pb, np, 2, h, d).permute(2, 0, 3, 1, 4);
        Tensor k = kv.select(0, 0), v = kv.select(0, 1);
        if (pb != b) {
            k = k.expand(b, -1, -1, -1);
            v = v.expand(b, -1, -1, -1);
        }
        Tensor o = sdpa(q, k, v);
        return frozenLinear(i, o.transpose(1, 2).reshape(b, n, c), "attn.proj", 0, -1, BlockHooks.NONE);
    }

    /**
     * Linear {@code local} of block i ({@code attn.qkv}, {@code attn.proj}, {@code mlp.fc1}, {@code mlp.fc2}),
     * output features [from, from+count) (count &lt; 0: all), plus the hooks' delta for it. The weight
     * may be trainable (full fine-tuning); when it is frozen, {@link dev.cvpt.engine.Linear} may want
     * its transpose for the input gradient, made once per weight and kept (frozen weights never
     * change in place).
     */
    private Tensor frozenLinear(int i, Tensor x, String local, long from, long count, BlockHooks hooks) {
        return frozenLinear(i, x, local, from, count, hooks, false);
    }

    /** As above; {@code lowOut}: under bf16 the output may stay bf16 (the caller's next op takes it). */
    private Tensor frozenLinear(int i, Tensor x, String local, long from, long count, BlockHooks hooks, boolean lowOut) {
        String name = "blocks." + i + "." + local;
        FrozenLinear f = frozenWeights(name);   // Precision.BF16: the product on the bf16 copies
        Tensor w = f.weight(), b = f.bias();
        if (count >= 0) {
            w = w.narrow(0, from, count);
            b = b.narrow(0, from, count);
        }
        Tensor weight = w;
        Tensor out = Precision.isBf16(w) ? Linear.bf16(x, w, b, lowOut) : linear(x, w, b, () -> transposed.computeIfAbsent(name + "[" + from + "," + count + "]", k -> {
            Tensor t = weight.t().contiguous();
            t.retainReference();   // outlives the block scope it is made in
            return t;
        }));
        Tensor delta = hooks.linearDelta(local, x, from, count);
        return delta == null ? out : out.add(delta);
    }

    /**
     * Fused attention (softmax in fp32), also under bf16: the unfused form with its two products in
     * bf16 measured no faster in inference and 10 % slower in training (docs/PERFORMANCE.md, "bf16").
     */
    private Tensor sdpa(Tensor q, Tensor k, Tensor v) {
        if (method.unfusedAttention())
            return matmul(softmax(matmul(q.mul(scalar(1 / Math.sqrt(q.size(-1)))), k.transpose(-2, -1)), -1), v);
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
