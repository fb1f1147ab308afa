package dev.cvpt.model;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

import static dev.cvpt.engine.Linear.linear;
import static dev.cvpt.engine.Tensors.scalar;
import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.rand;
import static org.bytedeco.pytorch.global.torch.randn;
import static org.bytedeco.pytorch.global.torch.zeros;

/**
 * LoRA on the fused qkv projection, as NOAH runs it for the VTAB-1k "LoRA" row
 * (docs/METHODS.md; shared/docs/methods/lora.md): per block, with x the attention input norm1(x),
 * <pre>
 *   d = scale · B · A · drop(x)        A = attn.LoRA_a.weight [r, C], B = attn.LoRA_b.weight [T·C, r]
 *   q, k, v += the C-wide slices of d of the targets (T of q, k, v, in that order)
 * </pre>
 * NOAH's module is targets qkv, scale 1, rank 8, dropout 0.1 on A's input only. Init {@code noah}
 * is NOAH's effective one (A and B ~ N(0, .02²): timm's init_weights overwrites the nominal
 * kaiming/zero init); {@code lora} is the nominal one (A U(±1/√C), B 0: starts at the backbone).
 * {@link #mergedQkv} folds the delta into the frozen weight for deployment.
 */
public final class Lora implements TuningMethod, Draws.Source {
    public static final String NAME = "lora";
    private static final String QKV = "qkv";

    private final Map<String, Tensor> params = new LinkedHashMap<>();
    private final int depth, rank, dim;
    private final String targets;
    private final double scale, dropout;
    private final Draws draws = new Draws();

    public Lora(int depth, int dim, int rank, String targets, double scale, double dropout) {
        this.depth = depth;
        this.dim = dim;
        this.rank = rank;
        this.targets = canonicalTargets(targets);
        this.scale = scale;
        this.dropout = dropout;
    }

    /** The method from its options ({@code lora-rank}, {@code lora-targets}, {@code lora-scale}, {@code lora-init}, {@code lora-dropout}). */
    public static Lora create(VitConfig cfg, MethodSpec spec) {
        int r = spec.intOption("lora-rank", 8);
        if (r < 1) throw new IllegalArgumentException("--lora-rank must be at least 1, got " + r);
        double s = spec.doubleOption("lora-scale", 1.0);
        if (!Double.isFinite(s)) throw new IllegalArgumentException("--lora-scale must be a finite number, got " + s);
        double p = spec.doubleOption("lora-dropout", 0.1);
        if (p < 0 || p >= 1) throw new IllegalArgumentException("--lora-dropout must be in [0,1), got " + p);
        String init = spec.stringOption("lora-init", "noah");
        Lora m = new Lora(cfg.depth(), cfg.dim(), r, spec.stringOption("lora-targets", QKV), s, p);
        int C = cfg.dim(), T = m.targets.length();
        for (int i = 0; i < cfg.depth(); i++) {
            Tensor a, b;
            switch (init) {
                case "noah" -> { a = randn(r, C).mul(scalar(0.02)); b = randn((long) T * C, r).mul(scalar(0.02)); }
                case "lora" -> { a = rand(r, C).mul(scalar(2)).sub(scalar(1)).mul(scalar(1 / Math.sqrt(C))); b = zeros((long) T * C, r); }
                default -> throw new IllegalArgumentException("--lora-init must be noah or lora, got '" + init + "'");
            }
            m.params.put(a(i), a);
            m.params.put(b(i), b);
        }
        return m;
    }

    static String canonicalTargets(String t) {
        if (t == null || t.isEmpty() || !t.chars().allMatch(c -> QKV.indexOf(c) >= 0) || t.chars().distinct().count() != t.length())
            throw new IllegalArgumentException("--lora-targets must be a non-empty subset of q, k, v (e.g. qkv, qv), got '" + t + "'");
        StringBuilder sb = new StringBuilder();
        for (char c : QKV.toCharArray()) if (t.indexOf(c) >= 0) sb.append(c);
        return sb.toString();
    }

    static String a(int i) { return "blocks." + i + ".attn.LoRA_a.weight"; }

    static String b(int i) { return "blocks." + i + ".attn.LoRA_b.weight"; }

    @Override public Draws draws() { return draws; }

    public String targets() { return targets; }

    @Override public String name() { return NAME; }

    @Override public Map<String, Tensor> parameters() { return params; }

    /** scale · B as a [3C, r] matrix in qkv's row order, zero rows for the q/k/v that are not targets. */
    private Tensor fullB(int i) {
        Tensor b = params.get(b(i));
        if (scale != 1.0) b = b.mul(scalar(scale));
        if (targets.equals(QKV)) return b;
        Tensor[] parts = new Tensor[3];
        for (int j = 0; j < 3; j++) {
            int at = targets.indexOf(QKV.charAt(j));
            parts[j] = at >= 0 ? b.narrow(0, (long) at * dim, dim) : zeros(dim, rank);
        }
        return cat(new TensorVector(parts), 0);
    }

    /** The frozen qkv weight of block i plus scale · B·A on the targets' rows (bias unchanged). */
    public Tensor mergedQkv(VisionTransformer vit, int i) {
        return vit.param("blocks." + i + ".attn.qkv.weight").add(fullB(i).matmul(params.get(a(i))));
    }

    @Override
    public BlockHooks blockHooks(VisionTransformer vit, int i, long batch, boolean training) {
        String drop = "blocks." + i + ".attn.LoRA_drop";
        return new BlockHooks() {
            // one dropout mask per sample and token, shared by its q, k and v (and by the query and key
            // calls of a block that computes the cls query only): drawn once per batch size, for every token
            private final Map<Long, Tensor> masks = new HashMap<>();
            private long tokens;

            @Override public Tensor enter(Tensor x) {
                tokens = x.size(1);
                return x;
            }

            @Override public Tensor linearDelta(String name, Tensor x, long from, long count) {
                if (!name.equals("attn.qkv")) return null;
                Tensor h = x;
                if (training && dropout > 0) {
                    Tensor mask = draws.given(drop, x);
                    if (mask == null) {
                        Tensor m = masks.computeIfAbsent(x.size(0), b -> draws.dropout(drop,
                                org.bytedeco.pytorch.global.torch.ones(b, Math.max(tokens, x.size(1)), x.size(2)), dropout, true));
                        mask = m.narrow(1, 0, x.size(1));
                    }
                    h = x.mul(mask);
                }
                Tensor bm = fullB(i);
                if (count >= 0) bm = bm.narrow(0, from, count);
                return linear(linear(h, params.get(a(i)), null), bm, null);
            }
        };
    }
}
