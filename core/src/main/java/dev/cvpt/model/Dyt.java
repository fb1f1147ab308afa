package dev.cvpt.model;

import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.cvpt.engine.Linear.linear;
import static dev.cvpt.engine.Tensors.scalar;
import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.cross_entropy;
import static org.bytedeco.pytorch.global.torch.kl_div;
import static org.bytedeco.pytorch.global.torch.log_softmax;
import static org.bytedeco.pytorch.global.torch.nonzero;
import static org.bytedeco.pytorch.global.torch.ones;
import static org.bytedeco.pytorch.global.torch.rand;
import static org.bytedeco.pytorch.global.torch.randn;
import static org.bytedeco.pytorch.global.torch.relu;
import static org.bytedeco.pytorch.global.torch.stack;
import static org.bytedeco.pytorch.global.torch.zeros;
import static org.bytedeco.pytorch.global.torch.zeros_like;

/**
 * Dynamic Tuning (DyT, NeurIPS 2024; shared/docs/methods/dyt.md), the one variant the official code
 * has: MLP token dispatch with a plain adapter. Every block, x after the attention residual:
 * <pre>
 *   gate = [1, g(x[:,1:])]                 g: mlp_token_select.mlp_head (C→1) on the patch tokens
 *   x    = (x + gate · mlp(norm2 x)) + s · up(dropout(relu(down(x))))       adapter on every token
 *   train: σ = sigmoid((l + g1 − g2)/τ) (g1, g2 Gumbel, τ 5);  eval: σ = sigmoid(l);  gate = 1[σ &gt; 0.5] − σ.detach() + σ
 * </pre>
 * At inference (eval, no autograd) the frozen MLP really runs only on the tokens whose gate is 1:
 * they are gathered, put through norm2 and the MLP, and scattered back. Training minimises
 * {@code CE(student) + w·(mean gate − r)² + CE(teacher) + KL(teacher‖student)} (the released
 * code's loss; teacher = same weights with every token through the MLP, KL target detached);
 * {@code dyt-distill false} gives the arXiv-v1 loss without the teacher.
 */
public final class Dyt implements TuningMethod, Draws.Source {
    public static final String NAME = "dyt";
    static final double THRESHOLD = 0.5;

    private final Map<String, Tensor> params = new LinkedHashMap<>();
    private final double dropout, scale, tau, rate, rateWeight;
    private final boolean distill;
    private final Draws draws = new Draws();
    private final ThreadLocal<Pass> pass = new ThreadLocal<>();
    private Tensor normScale, normShift;   // ImageNet-normalised → mean/std 0.5 (null: as given)

    private Dyt(double dropout, double scale, double tau, double rate, double rateWeight, boolean distill) {
        this.dropout = dropout;
        this.scale = scale;
        this.tau = tau;
        this.rate = rate;
        this.rateWeight = rateWeight;
        this.distill = distill;
    }

    /**
     * The method from its options: {@code adapter-dim} (16, the released VTAB script), {@code adapter-dropout}
     * (0.1), {@code dyt-scale} (adapter scale, 1), {@code dyt-rate} (target gate rate, 0.5),
     * {@code dyt-rate-weight} (2), {@code dyt-tau} (5), {@code dyt-distill} (true).
     */
    public static Dyt create(VitConfig cfg, MethodSpec spec) {
        int r = spec.intOption("adapter-dim", 16);
        if (r < 1) throw new IllegalArgumentException("--adapter-dim must be at least 1, got " + r);
        double p = spec.doubleOption("adapter-dropout", 0.1);
        if (p < 0 || p >= 1) throw new IllegalArgumentException("--adapter-dropout must be in [0,1), got " + p);
        double rate = spec.doubleOption("dyt-rate", 0.5);
        if (!(rate >= 0 && rate <= 1)) throw new IllegalArgumentException("--dyt-rate must be in [0,1], got " + rate);
        double tau = spec.doubleOption("dyt-tau", 5.0);
        if (!(tau > 0)) throw new IllegalArgumentException("--dyt-tau must be positive, got " + tau);
        double w = spec.doubleOption("dyt-rate-weight", 2.0);
        if (!(w >= 0)) throw new IllegalArgumentException("--dyt-rate-weight must be >= 0, got " + w);
        double s = spec.doubleOption("dyt-scale", 1.0);
        if (!Double.isFinite(s)) throw new IllegalArgumentException("--dyt-scale must be a finite number, got " + s);
        Dyt m = new Dyt(p, s, tau, rate, w, spec.booleanOption("dyt-distill", true));
        String norm = spec.stringOption("dyt-norm", "inception");
        switch (norm) {
            case "inception" -> {
                // x = y·std + mean (ImageNet), then (x − 0.5)/0.5 = y·(2·std) + (2·mean − 1), per channel
                float[] a = new float[3], c = new float[3];
                for (int ch = 0; ch < 3; ch++) {
                    a[ch] = 2 * dev.cvpt.data.Transforms.STD[ch];
                    c[ch] = 2 * dev.cvpt.data.Transforms.MEAN[ch] - 1;
                }
                m.normScale = dev.cvpt.engine.Tensors.fromFloats(a, 1, 3, 1, 1);
                m.normShift = dev.cvpt.engine.Tensors.fromFloats(c, 1, 3, 1, 1);
                m.normScale.retainReference();
                m.normShift.retainReference();
            }
            case "imagenet" -> { }
            default -> throw new IllegalArgumentException("--dyt-norm must be inception or imagenet, got '" + norm + "'");
        }
        int C = cfg.dim();
        for (int i = 0; i < cfg.depth(); i++) {
            String a = adapter(i), g = selector(i);
            m.params.put(a + "down_proj.weight", rand(r, C).mul(scalar(2)).sub(scalar(1)).mul(scalar(1 / Math.sqrt(C))));
            m.params.put(a + "down_proj.bias", zeros(r));
            m.params.put(a + "up_proj.weight", zeros(C, r));
            m.params.put(a + "up_proj.bias", zeros(C));
            m.params.put(g + "mlp_head.weight", randn(1, C).mul(scalar(0.02)));
            m.params.put(g + "mlp_head.bias", zeros(1));
        }
        return m;
    }

    static String adapter(int i) { return "blocks." + i + ".adaptmlp."; }

    static String selector(int i) { return "blocks." + i + ".mlp_token_select."; }

    @Override public Draws draws() { return draws; }

    public boolean distill() { return distill; }

    @Override public String name() { return NAME; }

    @Override public Map<String, Tensor> parameters() { return params; }

    /**
     * DyT's preprocessing (Normalize mean/std 0.5, the default {@code dyt-norm inception}) from the
     * ImageNet-normalised images of the loaders: exact up to float rounding.
     */
    @Override public Tensor inputImages(Tensor images) {
        return normScale == null ? images : images.mul(normScale).add(normShift);
    }

    /** The official code's backbone (timm 0.9.12, torch 1.8) scales q before q·kᵀ, unfused. */
    @Override public boolean unfusedAttention() { return true; }

    /** The rate loss reads the gates of every token of the last block. */
    @Override public boolean clsOnlyLastBlock() { return false; }

    /** What one forward records: the gates and dispatcher logits of the patch tokens, [B, L, N−1, 1]. */
    public record Forward(Tensor feat, Tensor logits, Tensor tokenSelect, Tensor tokenLogits) {}

    /** One training step's loss and its parts (teacher parts null without distillation). */
    public record Loss(Forward student, Tensor loss, Tensor ce, Tensor rateLoss, Tensor teacherLogits, Tensor teacherCe, Tensor distillLoss) {}

    /** The settings of one forward, per thread (data-parallel chunks run concurrently). */
    private static final class Pass {
        final boolean complete;
        final String prefix;
        final List<Tensor> gates = new ArrayList<>(), logits = new ArrayList<>();

        Pass(boolean complete, String prefix) {
            this.complete = complete;
            this.prefix = prefix;
        }
    }

    /**
     * A forward that records the gates. {@code complete}: every token through the MLP (the teacher);
     * {@code prefix}: names the draws ("teacher." for the teacher's); {@code taps} as {@link VisionTransformer#features}.
     */
    public Forward forward(VisionTransformer vit, Tensor images, boolean training, boolean complete, String prefix, List<Tensor> taps) {
        Pass p = new Pass(complete, prefix);
        Pass old = pass.get();
        pass.set(p);
        try {
            Tensor feat = vit.features(images, training, taps);
            Tensor logits = vit.head(feat);
            if (complete) return new Forward(feat, logits, null, null);
            return new Forward(feat, logits, stack(new TensorVector(p.gates.toArray(new Tensor[0])), 1),
                    stack(new TensorVector(p.logits.toArray(new Tensor[0])), 1));
        } finally {
            if (old == null) pass.remove();
            else pass.set(old);
            p.gates.forEach(Tensor::releaseReference);
            p.logits.forEach(Tensor::releaseReference);
        }
    }

    /** The released code's training loss for one batch (see the class comment). */
    public Loss loss(VisionTransformer vit, Tensor images, Tensor labels) {
        return loss(vit, images, labels, null);
    }

    /** As {@link #loss(VisionTransformer, Tensor, Tensor)}; {@code taps} receive the student's tokens. */
    public Loss loss(VisionTransformer vit, Tensor images, Tensor labels, List<Tensor> taps) {
        Forward s = forward(vit, images, true, false, "", taps);
        Tensor ce = cross_entropy(s.logits(), labels);
        Tensor rl = s.tokenSelect().mean().sub(scalar(rate)).pow(scalar(2));
        Tensor loss = ce.add(rl.mul(scalar(rateWeight)));
        if (!distill) return new Loss(s, loss, ce, rl, null, null, null);
        Forward t = forward(vit, images, true, true, "teacher.", null);
        Tensor ceT = cross_entropy(t.logits(), labels);
        Tensor kl = kl_div(log_softmax(s.logits(), -1), log_softmax(t.logits().detach(), -1), 2 /* sum */, true)
                .div(scalar(images.size(0)));
        return new Loss(s, loss.add(ceT).add(kl), ce, rl, t.logits(), ceT, kl);
    }

    @Override
    public Objective trainingObjective(VisionTransformer vit, Tensor images, Tensor labels) {
        Loss l = loss(vit, images, labels);
        return new Objective(l.student().logits(), l.loss());
    }

    /** s · up(dropout(relu(down(x)))) of block i on every token. */
    private Tensor adapt(int i, Tensor x, boolean training, String prefix) {
        String a = adapter(i);
        Tensor h = relu(linear(x, params.get(a + "down_proj.weight"), params.get(a + "down_proj.bias")));
        if (training && dropout > 0) h = h.mul(draws.keepMask(prefix + a + "dropout_keep", h, dropout).div(scalar(1 - dropout)));
        Tensor up = linear(h, params.get(a + "up_proj.weight"), params.get(a + "up_proj.bias"));
        return scale == 1.0 ? up : up.mul(scalar(scale));
    }

    @Override
    public BlockHooks blockHooks(VisionTransformer vit, int i, long batch, boolean training) {
        Pass p = pass.get();
        boolean complete = p != null && p.complete;
        String prefix = p == null ? "" : p.prefix;
        return new BlockHooks() {
            private Tensor hard, gate;   // of this block's patch tokens [B, N−1, 1], made once

            /** The dispatcher's gates for the stream y (every sample), recorded for the forward's caller. */
            private void gates(Tensor y) {
                if (gate != null) return;
                long t = y.size(1);
                String g = selector(i);
                Tensor logits = linear(y.narrow(1, 1, t - 1), params.get(g + "mlp_head.weight"), params.get(g + "mlp_head.bias"));
                Tensor soft = training
                        ? logits.add(draws.gumbel(prefix + g + "gumbel1", logits)).sub(draws.gumbel(prefix + g + "gumbel2", logits)).div(scalar(tau)).sigmoid()
                        : logits.sigmoid();
                hard = zeros_like(logits).masked_fill(soft.gt(scalar(THRESHOLD)), scalar(1.0));
                gate = hard.sub(soft.detach()).add(soft);       // straight-through: forward value 0/1
                if (p != null) {
                    p.gates.add(escape(gate));
                    p.logits.add(escape(logits));
                }
            }

            private Tensor withCls(Tensor g) {
                return cat(new TensorVector(ones(g.size(0), 1, 1), g), 1);
            }

            @Override public Tensor mlpBranch(Block block, Tensor y, Tensor idx) {
                if (complete || training) return block.mlp(block.norm2(y));   // training: gated in mlpResidual (drop-path sees whole samples)
                gates(y);
                long b = y.size(0), t = y.size(1);
                if (!GradMode.is_enabled()) {
                    // inference: the MLP runs on the kept tokens only (cls always kept)
                    Tensor keep = cat(new TensorVector(ones(b, 1), hard.view(b, t - 1)), 1).view(b * t);
                    Tensor rows = nonzero(keep).view(-1);
                    Tensor flat = y.reshape(b * t, y.size(2));
                    Tensor out = block.mlp(block.norm2(flat.index_select(0, rows)));
                    return zeros_like(flat).index_copy(0, rows, out).view(b, t, y.size(2));
                }
                return block.mlp(block.norm2(y)).mul(withCls(gate));
            }

            @Override public Tensor mlpResidual(Tensor y, Tensor m) {
                if (training && !complete) {
                    // gate · dp(mlp) = dp(gate · mlp): the gate is per token, drop-path per sample
                    gates(y);
                    m = m.mul(withCls(gate));
                }
                return y.add(m).add(adapt(i, y, training, prefix));
            }
        };
    }

    /** A handle that outlives the block scope it is made in (released by {@link #forward}). */
    private static Tensor escape(Tensor t) {
        Tensor h = new Tensor(t);
        h.retainReference();
        return h;
    }
}
