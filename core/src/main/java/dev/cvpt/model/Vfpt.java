package dev.cvpt.model;

import dev.cvpt.engine.Tensors;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.matmul;
import static org.bytedeco.pytorch.global.torch.rand;
import static org.bytedeco.pytorch.global.torch.randn;

/**
 * Visual Fourier Prompt Tuning (Zeng et al., NeurIPS 2024; official github:runtsang/VFPT
 * src/models/vit_prompt/vit_fourier.py, see shared/docs/methods/vfpt.md). VPT-deep with the
 * prompts after the class token, {@code [CLS, prompts, patches]}; the first m = floor(P·α) rows
 * of each layer's prompts pass through {@code Re(FFT_seq(FFT_hidden(E[:m])))} (unscaled; the
 * parameter itself never changes), placed before (prepend) or after (append) the plain rows.
 * The official prompt dropout is inert (the encoder is kept in eval mode), so there is none here.
 * The FFT is computed as real DFT matrices: {@code all: C_m X C_C − S_m X S_C}, {@code hidden: X C_C},
 * {@code sequence: C_m X} (C, S symmetric, so the backward is the same map).
 *
 * @param prompt     {@code prompt_embeddings} [1,P,C] (layer 0)
 * @param deepPrompt {@code deep_prompt_embeddings} [L-1,P,C] (layers 1..L-1), null when shallow
 * @param fraction   α, the Fourier fraction in [0,1]
 * @param dimension  all, hidden or sequence
 * @param location   prepend or append
 * @param firstLayer whether layer 0's prompts get the Fourier map too
 */
public record Vfpt(Tensor prompt, Tensor deepPrompt, double fraction, String dimension, String location,
                   boolean firstLayer) implements TuningMethod {
    public static final String PROMPT = "prompt_embeddings", DEEP = "deep_prompt_embeddings";
    /** Official names in the state dict of the official vit_models.ViT. */
    public static final Map<String, String> OFFICIAL = Map.of(PROMPT, "enc.transformer.prompt_embeddings",
            DEEP, "enc.transformer.deep_prompt_embeddings", "head.weight", "head.last_layer.weight",
            "head.bias", "head.last_layer.bias");

    public Vfpt {
        dimension = dimension.toLowerCase(Locale.ROOT);
        location = location.toLowerCase(Locale.ROOT);
        check((int) prompt.size(1), fraction, dimension, location);
    }

    /** The options of a spec are valid for VFPT (MethodSpec calls this, so a bad run.json or task file is caught too). */
    public static void check(int p, Map<String, Object> o) {
        Object f = o.getOrDefault("fourier-fraction", 1.0);
        if (!(f instanceof Number n)) throw new IllegalArgumentException("--fourier-fraction must be a number, got '" + f + "'");
        check(p, n.doubleValue(), String.valueOf(o.getOrDefault("fourier-dimension", "all")).toLowerCase(Locale.ROOT),
                String.valueOf(o.getOrDefault("fourier-location", "prepend")).toLowerCase(Locale.ROOT));
    }

    private static void check(int p, double fraction, String dimension, String location) {
        if (!(fraction >= 0 && fraction <= 1))
            throw new IllegalArgumentException("--fourier-fraction must be in [0,1], got " + fraction);
        if (!dimension.matches("all|hidden|sequence"))
            throw new IllegalArgumentException("--fourier-dimension must be all, hidden or sequence, got '" + dimension + "'");
        if (!location.matches("prepend|append"))
            throw new IllegalArgumentException("--fourier-location must be prepend or append, got '" + location + "' (the official 'random' is an ablation, not supported)");
        if (fraction != 0 && fourierTokens(p, fraction) == 0)
            throw new IllegalArgumentException("--fourier-fraction " + fraction + " with " + p + " prompts gives floor(" + p + "·" + fraction
                    + ") = 0 Fourier prompts (the official code crashes on that); use more prompts or a larger fraction");
    }

    /** m as the official code: floor(P·α) in IEEE double (100 × 0.57 → 56), 0 for α = 0. */
    public static int fourierTokens(int prompts, double fraction) {
        return fraction == 0 ? 0 : (int) Math.floor(prompts * fraction);
    }

    /** A fresh VFPT with the official init (prompts U(±sqrt(6/(3p²+C))), head N(0, 2/K), bias −log 99). */
    public static Vfpt create(VitConfig cfg, MethodSpec spec, Map<String, Tensor> params) {
        int c = cfg.dim(), p = spec.prompts();
        double v = Math.sqrt(6.0 / (3.0 * cfg.patch() * cfg.patch() + c));
        Tensor prompt = uniform(v, 1, p, c);
        Tensor deep = spec.deep() && cfg.depth() > 1 ? uniform(v, cfg.depth() - 1, p, c) : null;
        officialHead(params);
        return new Vfpt(prompt, deep, spec.doubleOption("fourier-fraction", 1.0), spec.stringOption("fourier-dimension", "all"),
                spec.stringOption("fourier-location", "prepend"), spec.booleanOption("fourier-first-layer", true));
    }

    /** The KMnP/vpt MLP head (src/models/mlp.py L52-57): weight kaiming_normal_(fan_out) = N(0, 2/K), bias −log((1−0.01)/0.01). */
    static void officialHead(Map<String, Tensor> params) {
        Tensor w = params.get("head.weight");
        long k = w.size(0);
        params.put("head.weight", randn(w.shape()).mul(Tensors.scalar(Math.sqrt(2.0 / k))));
        params.put("head.bias", org.bytedeco.pytorch.global.torch.full(new long[]{k}, Tensors.scalar(-Math.log((1 - 0.01) / 0.01))));
    }

    static Tensor uniform(double bound, long... shape) {
        return rand(shape).mul(Tensors.scalar(2)).sub(Tensors.scalar(1)).mul(Tensors.scalar(bound));
    }

    public int prompts() { return (int) prompt.size(1); }

    public int fourierTokens() { return fourierTokens(prompts(), fraction); }

    public boolean deep() { return deepPrompt != null; }

    @Override public String name() { return "vfpt"; }

    @Override public String officialName(String n) { return OFFICIAL.getOrDefault(n, n); }

    @Override
    public Map<String, Tensor> parameters() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put(PROMPT, prompt);
        if (deepPrompt != null) m.put(DEEP, deepPrompt);
        return m;
    }

    /** The prompts [1,P,C] entering block i, after the Fourier map. */
    public Tensor layerPrompts(int i) {
        Tensor e = i == 0 ? prompt : deepPrompt.narrow(0, i - 1, 1);      // [1,P,C]
        int p = prompts(), m = fourierTokens();
        if (fraction == 0 || i == 0 && !firstLayer) return e;
        if (m == p) return fourier(e, dimension);
        Tensor f = fourier(e.narrow(1, 0, m), dimension), r = e.narrow(1, m, p - m);
        return cat(location.equals("prepend") ? new TensorVector(f, r) : new TensorVector(r, f), 1);
    }

    @Override
    public Tensor beforeBlocks(VisionTransformer vit, Tensor x, boolean training) {
        return Prompts.afterCls(x, layerPrompts(0));
    }

    @Override
    public BlockHooks blockHooks(VisionTransformer vit, int i, long batch, boolean training) {
        if (i == 0 || !deep()) return BlockHooks.NONE;
        Tensor p = layerPrompts(i);
        return new BlockHooks() {
            @Override public Tensor enter(Tensor x) { return Prompts.replaceAfterCls(x, p); }
        };
    }

    // ------------------------------------------------------------ the Fourier map

    private static final Map<Long, Tensor[]> DFT = new ConcurrentHashMap<>();

    /** {C_n, S_n}: cos/sin(2π·(k·j mod n)/n), computed in double, stored as float32. */
    private static Tensor[] dft(long n) {
        return DFT.computeIfAbsent(n, k -> {
            float[] c = new float[(int) (n * n)], s = new float[(int) (n * n)];
            for (long a = 0; a < n; a++)
                for (long b = 0; b < n; b++) {
                    double ang = 2 * Math.PI * ((a * b) % n) / n;
                    c[(int) (a * n + b)] = (float) Math.cos(ang);
                    s[(int) (a * n + b)] = (float) Math.sin(ang);
                }
            Tensor ct = Tensors.fromFloats(c, n, n), st = Tensors.fromFloats(s, n, n);
            ct.retainReference();
            st.retainReference();
            return new Tensor[]{ct, st};
        });
    }

    /** Re(FFT) of x [.., m, C] over the hidden and/or sequence dimension, unscaled. */
    public static Tensor fourier(Tensor x, String dimension) {
        long m = x.size(-2), c = x.size(-1);
        Tensor[] h = dft(c);
        return switch (dimension) {
            case "hidden" -> matmul(x, h[0]);
            case "sequence" -> matmul(dft(m)[0], x);
            default -> {
                Tensor[] s = dft(m);
                yield matmul(matmul(s[0], x), h[0]).sub(matmul(matmul(s[1], x), h[1]));
            }
        };
    }
}
