package dev.cvpt.model;

import org.bytedeco.pytorch.Tensor;

import java.util.LinkedHashMap;
import java.util.Map;

import static dev.cvpt.engine.Linear.linear;
import static dev.cvpt.engine.Tensors.opt;
import static dev.cvpt.engine.Tensors.scalar;
import static org.bytedeco.pytorch.global.torch.layer_norm;
import static org.bytedeco.pytorch.global.torch.ones;
import static org.bytedeco.pytorch.global.torch.rand;
import static org.bytedeco.pytorch.global.torch.relu;
import static org.bytedeco.pytorch.global.torch.zeros;

/**
 * AdaptFormer's AdaptMLP (ShoufaChen/AdaptFormer; shared/docs/methods/adaptformer.md), every block:
 * <pre>
 *   parallel:   a = s · up(dropout(relu(down(x))));   x = x + (dp(mlp(norm2 x)) + a)    x: the raw stream, a: no drop-path
 *   sequential: h = dp(mlp(norm2 x));                 x = x + (s · up(dropout(relu(down(h)))) + h)
 * </pre>
 * s is a number (official 0.1) or learnable ({@code adaptmlp.scale} [1], starting at 1). LayerNorm
 * option {@code in} normalises the branch input, {@code out} the scaled branch output
 * ({@code adapter_layer_norm_before}, torch's eps 1e-5). Official init ("lora"): down U(±1/√C), up
 * and biases 0, so training starts at the backbone.
 */
public final class AdaptFormer implements TuningMethod, Draws.Source {
    public static final String NAME = "adaptformer";
    static final double LN_EPS = 1e-5;

    private final Map<String, Tensor> params = new LinkedHashMap<>();
    private final double scale;          // NaN: learnable
    private final String layernorm;
    private final boolean sequential;
    private final double dropout;
    private final Draws draws = new Draws();

    private AdaptFormer(double scale, String layernorm, boolean sequential, double dropout) {
        this.scale = scale;
        this.layernorm = layernorm;
        this.sequential = sequential;
        this.dropout = dropout;
    }

    /**
     * The method from its options: {@code adapter-dim} (8, the VTAB-1k row), {@code adaptformer-scale}
     * (a number or {@code learnable}; 0.1), {@code adaptformer-layernorm} (none, in, out),
     * {@code adaptformer-option} (parallel, sequential), {@code adapter-dropout} (0.1).
     */
    public static AdaptFormer create(VitConfig cfg, MethodSpec spec) {
        int d = spec.intOption("adapter-dim", 8);
        if (d < 1) throw new IllegalArgumentException("--adapter-dim must be at least 1, got " + d);
        Object s = spec.options().getOrDefault("adaptformer-scale", 0.1);
        double scale;
        if (s instanceof Number n) scale = n.doubleValue();
        else if (s.toString().equals("learnable")) scale = Double.NaN;
        else {
            try {
                scale = Double.parseDouble(s.toString());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--adaptformer-scale must be a number or 'learnable', got '" + s + "'");
            }
        }
        if (Double.isInfinite(scale)) throw new IllegalArgumentException("--adaptformer-scale must be finite");
        String ln = spec.stringOption("adaptformer-layernorm", "none");
        if (!ln.matches("none|in|out")) throw new IllegalArgumentException("--adaptformer-layernorm must be none, in or out, got '" + ln + "'");
        String option = spec.stringOption("adaptformer-option", "parallel");
        if (!option.matches("parallel|sequential"))
            throw new IllegalArgumentException("--adaptformer-option must be parallel or sequential, got '" + option + "'");
        double p = spec.doubleOption("adapter-dropout", 0.1);
        if (p < 0 || p >= 1) throw new IllegalArgumentException("--adapter-dropout must be in [0,1), got " + p);
        AdaptFormer m = new AdaptFormer(scale, ln, option.equals("sequential"), p);
        int C = cfg.dim();
        for (int i = 0; i < cfg.depth(); i++) {
            String n = prefix(i);
            if (Double.isNaN(scale)) m.params.put(n + "scale", ones(1));
            if (!ln.equals("none")) {
                m.params.put(n + "adapter_layer_norm_before.weight", ones(C));
                m.params.put(n + "adapter_layer_norm_before.bias", zeros(C));
            }
            m.params.put(n + "down_proj.weight", rand(d, C).mul(scalar(2)).sub(scalar(1)).mul(scalar(1 / Math.sqrt(C))));
            m.params.put(n + "down_proj.bias", zeros(d));
            m.params.put(n + "up_proj.weight", zeros(C, d));
            m.params.put(n + "up_proj.bias", zeros(C));
        }
        return m;
    }

    static String prefix(int i) { return "blocks." + i + ".adaptmlp."; }

    @Override public Draws draws() { return draws; }

    @Override public String name() { return NAME; }

    @Override public Map<String, Tensor> parameters() { return params; }

    /** s · up(dropout(relu(down(x)))) with the LayerNorm option, for block i. */
    Tensor branch(int i, Tensor x, boolean training) {
        String n = prefix(i);
        if (layernorm.equals("in")) x = norm(n, x);
        Tensor h = relu(linear(x, params.get(n + "down_proj.weight"), params.get(n + "down_proj.bias")));
        h = draws.dropout(n + "dropout", h, dropout, training);
        Tensor up = linear(h, params.get(n + "up_proj.weight"), params.get(n + "up_proj.bias"));
        up = Double.isNaN(scale) ? up.mul(params.get(n + "scale")) : up.mul(scalar(scale));
        return layernorm.equals("out") ? norm(n, up) : up;
    }

    private Tensor norm(String n, Tensor x) {
        return layer_norm(x, new long[]{x.size(-1)}, opt(params.get(n + "adapter_layer_norm_before.weight")),
                opt(params.get(n + "adapter_layer_norm_before.bias")), LN_EPS, false);
    }

    @Override
    public BlockHooks blockHooks(VisionTransformer vit, int i, long batch, boolean training) {
        return new BlockHooks() {
            @Override public Tensor mlpResidual(Tensor y, Tensor m) {
                return sequential ? y.add(branch(i, m, training).add(m)) : y.add(m.add(branch(i, y, training)));
            }
        };
    }
}
