package dev.cvpt.model;

import org.bytedeco.pytorch.Tensor;

import java.util.LinkedHashMap;
import java.util.Map;

import static dev.cvpt.engine.Linear.linear;
import static dev.cvpt.engine.Tensors.scalar;
import static org.bytedeco.pytorch.global.torch.rand;
import static org.bytedeco.pytorch.global.torch.randn;
import static org.bytedeco.pytorch.global.torch.zeros;

/**
 * NOAH's serial bottleneck adapter (the "Adapter" row of the NOAH/Convpass VTAB-1k tables;
 * shared/docs/methods/adapter.md), after the drop-path'ed MLP output h of every block:
 * <pre>
 *   h = dp(mlp(norm2 x));   x = x + (h + ln2(dropout(quick_gelu(ln1(h)))))     quick_gelu(z) = z·σ(1.702 z)
 * </pre>
 * {@code ln1} [d,C] and {@code ln2} [C,d] are Linear layers with bias (their official names).
 * Init {@code noah} is the effective official one (weights N(0,.02²), biases 0); {@code xavier} the
 * nominal one (xavier-uniform weights, biases N(0,1e-6²)); {@code zero-up} (not official: ln1 xavier,
 * ln2 zero) starts at the backbone. NOAH's state dict also holds {@code ln2.bias} as
 * {@code adapter.sampled_bias_1} ({@link #aliases}).
 */
public final class Adapter implements TuningMethod, Draws.Source {
    public static final String NAME = "adapter";

    private final Map<String, Tensor> params = new LinkedHashMap<>();
    private final double dropout;
    private final Draws draws = new Draws();

    private Adapter(double dropout) { this.dropout = dropout; }

    /** The method from its options ({@code adapter-dim}, {@code adapter-dropout}, {@code adapter-init}). */
    public static Adapter create(VitConfig cfg, MethodSpec spec) {
        int d = spec.intOption("adapter-dim", 8);
        if (d < 1) throw new IllegalArgumentException("--adapter-dim must be at least 1, got " + d);
        double p = spec.doubleOption("adapter-dropout", 0.1);
        if (p < 0 || p >= 1) throw new IllegalArgumentException("--adapter-dropout must be in [0,1), got " + p);
        String init = spec.stringOption("adapter-init", "noah");
        if (!init.matches("noah|xavier|zero-up"))
            throw new IllegalArgumentException("--adapter-init must be noah, xavier or zero-up, got '" + init + "'");
        Adapter m = new Adapter(p);
        int C = cfg.dim();
        for (int i = 0; i < cfg.depth(); i++) {
            String n = prefix(i);
            long[][] shapes = {{d, C}, {C, d}};
            for (int l = 0; l < 2; l++) {
                long out = shapes[l][0], in = shapes[l][1];
                Tensor w, b;
                if (init.equals("zero-up") && l == 1) {
                    w = zeros(out, in);
                    b = zeros(out);
                } else if (init.equals("noah")) {
                    w = randn(out, in).mul(scalar(0.02));
                    b = zeros(out);
                } else {
                    w = rand(out, in).mul(scalar(2)).sub(scalar(1)).mul(scalar(Math.sqrt(6.0 / (out + in))));
                    b = randn(out).mul(scalar(1e-6));
                }
                m.params.put(n + "ln" + (l + 1) + ".weight", w);
                m.params.put(n + "ln" + (l + 1) + ".bias", b);
            }
        }
        return m;
    }

    static String prefix(int i) { return "blocks." + i + ".adapter."; }

    @Override public Draws draws() { return draws; }

    @Override public String name() { return NAME; }

    @Override public Map<String, Tensor> parameters() { return params; }

    @Override
    public Map<String, String> aliases() {
        Map<String, String> a = new LinkedHashMap<>();
        for (String n : params.keySet())
            if (n.endsWith(".adapter.ln2.bias")) a.put(n.replace("ln2.bias", "sampled_bias_1"), n);
        return a;
    }

    @Override
    public BlockHooks blockHooks(VisionTransformer vit, int i, long batch, boolean training) {
        String n = prefix(i);
        return new BlockHooks() {
            @Override public Tensor mlpResidual(Tensor y, Tensor m) {
                Tensor z = linear(m, params.get(n + "ln1.weight"), params.get(n + "ln1.bias"));
                z = z.mul(z.mul(scalar(1.702)).sigmoid());
                z = draws.dropout(n + "dropout", z, dropout, training);
                return y.add(m.add(linear(z, params.get(n + "ln2.weight"), params.get(n + "ln2.bias"))));
            }
        };
    }
}
