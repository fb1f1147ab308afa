package dev.cvpt.verify;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cvpt.UserException;
import dev.cvpt.engine.Linear;
import dev.cvpt.engine.Native;
import dev.cvpt.engine.Tensors;
import dev.cvpt.io.Checkpoint;
import dev.cvpt.io.HostTensor;
import dev.cvpt.io.Npz;
import dev.cvpt.model.Backbones;
import dev.cvpt.model.MethodSpec;
import dev.cvpt.model.VisionTransformer;
import dev.cvpt.train.AdamW;
import dev.cvpt.train.Optimizer;
import dev.cvpt.train.Sgd;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

import static org.bytedeco.pytorch.global.torch.cross_entropy;

/**
 * Recomputes a golden case of the PyTorch oracle ({@code shared/golden/NAME.npz} + {@code NAME.json})
 * and compares every entry: rebuild the model from the config and checkpoint, set the trainables
 * from {@code init/*}, eval-mode forward, loss, backward, one AdamW step, forward again.
 * {@code rel = max|ours − golden| / max|golden|}; for {@code after/*} the denominator is the size
 * of the update {@code max|golden_after − init|}.
 */
public final class GoldenCheck {
    public static final double RTOL = 1e-4, RTOL_AFTER = 1e-3;

    /** One compared entry. */
    public record Entry(double maxAbs, double rel, double relConditioned, double tolerance) {
        public boolean ok() { return relConditioned <= tolerance && !Double.isNaN(relConditioned); }
    }

    /** The outcome for one case. */
    public record Result(Path caseFile, Path checkpoint, Map<String, Entry> entries, Map<String, HostTensor> computed) {
        public List<String> overTolerance() {
            List<String> bad = new ArrayList<>();
            entries.forEach((k, e) -> { if (!e.ok()) bad.add(k); });
            return bad;
        }

        public boolean passed() { return overTolerance().isEmpty(); }

        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("case", caseFile.toString());
            m.put("checkpoint", checkpoint.toString());
            Map<String, Object> es = new LinkedHashMap<>();
            entries.forEach((k, e) -> {
                Map<String, Object> v = new LinkedHashMap<>();
                v.put("max_abs", e.maxAbs());
                v.put("rel", e.rel());
                if (e.relConditioned() != e.rel()) v.put("rel_conditioned", e.relConditioned());
                v.put("tolerance", e.tolerance());
                es.put(k, v);
            });
            m.put("entries", es);
            m.put("over_tolerance", overTolerance());
            m.put("passed", passed());
            return m;
        }
    }

    private GoldenCheck() {}

    /** The checkpoint a case names: config.ckpt, resolved next to the case file. */
    public static Path defaultCheckpoint(Path caseFile) {
        JsonNode cfg = config(caseFile);
        String ckpt = text(caseFile, cfg, "ckpt");
        Path p = Path.of(ckpt);
        return p.isAbsolute() ? p : caseFile.toAbsolutePath().getParent().resolve(p);
    }

    public static Result run(Path caseFile, Path checkpointFile) {
        JsonNode cfg = config(caseFile);
        Map<String, HostTensor> golden = Npz.read(caseFile);
        if (PromptGoldenCheck.handles(cfg.path("method").asText()))
            return PromptGoldenCheck.run(caseFile, checkpointFile, root(caseFile), golden);
        Checkpoint ckpt = Checkpoint.load(checkpointFile);
        String method = text(caseFile, cfg, "method");
        if (AdapterGoldens.handles(method)) return AdapterGoldens.run(caseFile, checkpointFile, cfg, golden, ckpt);
        MethodSpec spec = new MethodSpec(method, cfg.path("insert").asInt(3), cfg.path("prompts").asInt(10),
                cfg.path("deep").asBoolean(true), 0.1);
        int classes = cfg.path("num_classes").asInt(-1);
        OptionalInt heads = cfg.has("heads") ? OptionalInt.of(cfg.get("heads").asInt()) : ckpt.heads();
        double lr = cfg.path("lr").asDouble(1e-3), wd = cfg.has("weight_decay") ? cfg.get("weight_decay").asDouble() : cfg.path("wd").asDouble(0.05);
        if (!cfg.path("dtype").asText("float32").equals("float32"))
            throw new UserException(caseFile + ": only float32 cases are supported, this one is " + cfg.get("dtype").asText());

        Native.load();
        Map<String, Entry> entries = new LinkedHashMap<>();
        Map<String, HostTensor> computed = new LinkedHashMap<>();
        try (PointerScope scope = new PointerScope()) {
            VisionTransformer vit = Backbones.build(checkpointFile, ckpt.tensors(), heads, spec, classes);
            Map<String, Tensor> trainable = vit.trainableParameters();
            try (NoGradGuard g = new NoGradGuard()) {
                trainable.forEach((n, t) -> Tensors.copyInto(t, caseFile, golden, "init/" + n, "the case"));
            }
            Tensor images = Tensors.fromHost(need(caseFile, golden, "images"));
            Tensor labels = Tensors.fromHost(need(caseFile, golden, "labels"));

            List<Tensor> taps = new ArrayList<>();
            Tensor feat, logits, loss;
            try (Linear.GradHooks hooks = Linear.gradHooks()) {   // the training step's gradient route (see Linear)
                feat = vit.features(images, false, taps);
                logits = vit.head(feat);
                loss = cross_entropy(logits, labels);
                loss.backward();
            }
            Map<String, float[]> ours = new LinkedHashMap<>();
            ours.put("feat", Tensors.toFloats(feat));
            ours.put("logits", Tensors.toFloats(logits));
            ours.put("loss", Tensors.toFloats(loss));
            ours.put("embed", Tensors.toFloats(taps.get(0)));
            for (int i = 1; i < taps.size(); i++) ours.put("blocks/" + (i - 1), Tensors.toFloats(taps.get(i)));
            trainable.forEach((n, t) -> ours.put("grad/" + n, Tensors.toFloats(t.grad())));

            Optimizer opt = optimizer(caseFile, cfg, trainable);
            opt.step(lr);
            trainable.forEach((n, t) -> ours.put("after/" + n, Tensors.toFloats(t)));
            try (NoGradGuard g = new NoGradGuard()) {
                Tensor after = vit.forward(images, false);
                ours.put("logits_after", Tensors.toFloats(after));
                ours.put("loss_after", Tensors.toFloats(cross_entropy(after, labels)));
            }
            compareEntries(caseFile, cfg, golden, ours, trainable, opt, lr, wd, entries, computed);
        }
        return new Result(caseFile, checkpointFile, entries, computed);
    }

    /**
     * The optimizer a case's config names ({@code optimizer}: AdamW, the default, or SGD with
     * {@code momentum}, {@code dampening}, {@code nesterov}), with its weight decay per parameter
     * (see {@link #decayOf}). Its {@code step(lr)} is the case's step.
     */
    public static Optimizer optimizer(Path caseFile, JsonNode cfg, Map<String, Tensor> trainable) {
        double wd = cfg.has("weight_decay") ? cfg.get("weight_decay").asDouble() : cfg.path("wd").asDouble(0.05);
        Map<String, Double> decay = new LinkedHashMap<>();
        trainable.forEach((n, t) -> decay.put(n, decayOf(cfg, n, t.dim(), wd)));
        String name = cfg.path("optimizer").asText("AdamW");
        return switch (name.toLowerCase(java.util.Locale.ROOT)) {
            case "adamw" -> {
                JsonNode b = cfg.path("betas");
                if (b.isArray() && (b.get(0).asDouble() != AdamW.BETA1 || b.get(1).asDouble() != AdamW.BETA2)
                        || cfg.has("eps") && cfg.get("eps").asDouble() != AdamW.EPS || cfg.path("amsgrad").asBoolean(false))
                    throw new UserException(caseFile + ": config: only AdamW with betas (0.9, 0.999), eps 1e-8, no amsgrad is supported");
                yield new AdamW(trainable, decay, null);
            }
            case "sgd" -> new Sgd(trainable, decay, null, cfg.path("momentum").asDouble(0), cfg.path("dampening").asDouble(0),
                    cfg.path("nesterov").asBoolean(false));
            default -> throw new UserException(caseFile + ": config.optimizer '" + name + "' is not supported (AdamW, SGD)");
        };
    }

    /**
     * A parameter's weight decay in a case: {@code weight_decay_<name, dots as _>} when the config
     * gives it (SPT's groups), else 0 for a name in {@code weight_decay_exempt} or, where
     * {@code weight_decay_skips_bias_and_1d}, for a bias or a tensor of ndim ≤ 1; else the case's decay.
     */
    static double decayOf(JsonNode cfg, String name, long ndim, double wd) {
        JsonNode own = cfg.get("weight_decay_" + name.replace('.', '_'));
        if (own != null && own.isNumber()) return own.asDouble();
        for (JsonNode e : cfg.path("weight_decay_exempt")) if (e.asText().equals(name)) return 0;
        if (cfg.path("weight_decay_skips_bias_and_1d").asBoolean(false) && (ndim <= 1 || name.endsWith(".bias"))) return 0;
        return wd;
    }

    /**
     * Compares every recomputed entry with the golden one (see the class comment; {@code after/*}
     * relative to the update, with the AdamW conditioning rule), filling {@code entries} and
     * {@code computed}. Entries the case lacks are only recorded in {@code computed}.
     */
    static void compareEntries(Path caseFile, JsonNode cfg, Map<String, HostTensor> golden, Map<String, float[]> ours,
                               Map<String, Tensor> trainable, Optimizer opt, double lr, double wd,
                               Map<String, Entry> entries, Map<String, HostTensor> computed) {
        for (var e : ours.entrySet()) {
            HostTensor g = golden.get(e.getKey());
            long[] shape = g != null && g.numel() == e.getValue().length ? g.shape() : new long[]{e.getValue().length};
            computed.put(e.getKey(), HostTensor.ofFloats(e.getValue(), shape));
            if (g == null) continue;  // e.g. blocks/* only in cases made with --blocks
            float[] ref = g.toFloats(), mine = e.getValue();
            if (ref.length != mine.length)
                throw new UserException(caseFile + ": entry " + e.getKey() + " has " + ref.length
                        + " values, the model computed " + mine.length);
            String key = e.getKey();
            if (key.startsWith("after/") && golden.containsKey("init/" + key.substring(6))) {
                String n = key.substring(6);
                boolean adam = opt instanceof AdamW;   // the conditioning rule models AdamW's first step
                entries.put(key, compareStep(mine, ref, golden.get("init/" + n).toFloats(),
                        adam && golden.containsKey("grad/" + n) ? golden.get("grad/" + n).toFloats() : null, lr,
                        decayOf(cfg, n, trainable.get(n).dim(), wd)));
            } else {
                entries.put(key, compare(mine, ref));
            }
        }
    }

    /** rel = max|ours − golden| / max|golden|. */
    static Entry compare(float[] mine, float[] ref) {
        double diff = 0, scale = 0;
        for (int i = 0; i < ref.length; i++) {
            diff = nanMax(diff, Math.abs((double) mine[i] - ref[i]));
            scale = Math.max(scale, Math.abs(ref[i]));
        }
        double rel = diff / Math.max(scale, 1e-30);
        return new Entry(diff, rel, rel, RTOL);
    }

    /**
     * after/*: rel is relative to the size of the update, max|golden_after − init|. The first AdamW
     * step moves each element by about lr·g/(|g|+eps), so where |g| is near eps a gradient error far
     * inside the grad/* tolerance changes the update completely (the oracle itself, recomputing
     * `full` on the same machine, misses 1e-3 by up to 0.99). So an element also passes when its
     * value lies where the golden value moves when its gradient moves within the grad tolerance
     * (|g' − g_golden| ≤ RTOL·max|g_golden|): {@code relConditioned} measures the distance to that
     * interval. The interval is anchored on the golden value, so a wrong lr or weight decay still fails. Without a golden gradient only the plain rule applies.
     */
    static Entry compareStep(float[] mine, float[] ref, float[] init, float[] grad, double lr, double wd) {
        double diff = 0, scale = 0, gmax = 0;
        for (int i = 0; i < ref.length; i++) {
            diff = nanMax(diff, Math.abs((double) mine[i] - ref[i]));
            scale = Math.max(scale, Math.abs((double) ref[i] - init[i]));
            if (grad != null) gmax = Math.max(gmax, Math.abs(grad[i]));
        }
        scale = Math.max(scale, 1e-30);
        double rel = diff / scale;
        if (grad == null || Double.isNaN(rel)) return new Entry(diff, rel, rel, RTOL_AFTER);
        double delta = RTOL * gmax, worst = 0;
        for (int i = 0; i < ref.length; i++) {
            double d = Math.abs((double) mine[i] - ref[i]);
            if (d <= RTOL_AFTER * scale) { worst = Math.max(worst, d); continue; }
            // the golden value, moved by as much as a gradient change of ±delta moves the step
            double shift = ref[i] - firstStep(init[i], grad[i], lr, wd);
            double a = firstStep(init[i], grad[i] - delta, lr, wd) + shift, b = firstStep(init[i], grad[i] + delta, lr, wd) + shift;
            double lo = Math.min(a, b), hi = Math.max(a, b), m = mine[i];
            double outside = m < lo ? lo - m : m > hi ? m - hi : 0;
            worst = Math.max(worst, Math.min(d, outside));
        }
        return new Entry(diff, rel, worst / scale, RTOL_AFTER);
    }

    /** The value after AdamW's first step from p with gradient g (m̂ = g, v̂ = g²). */
    static double firstStep(double p, double g, double lr, double wd) {
        return p * (1 - lr * wd) - lr * g / (Math.abs(g) + AdamW.EPS);
    }

    private static double nanMax(double a, double b) { return Double.isNaN(a) || Double.isNaN(b) ? Double.NaN : Math.max(a, b); }

    static HostTensor need(Path file, Map<String, HostTensor> m, String name) {
        HostTensor t = m.get(name);
        if (t == null) throw new UserException(file + ": the case has no entry '" + name + "'");
        return t;
    }

    static JsonNode config(Path caseFile) {
        return root(caseFile).get("config");
    }

    /** The case's JSON (config, fp32_noise, ...); it has a "config" object. */
    static JsonNode root(Path caseFile) {
        String name = caseFile.getFileName().toString();
        Path json = caseFile.resolveSibling(name.endsWith(".npz") ? name.substring(0, name.length() - 4) + ".json" : name + ".json");
        try {
            JsonNode root = new ObjectMapper().readTree(Files.readString(json));
            JsonNode cfg = root == null ? null : root.get("config");
            if (cfg == null || !cfg.isObject()) throw new UserException(json + ": no \"config\" object");
            return root;
        } catch (IOException e) {
            throw new UserException(json + ": cannot read the case's config: " + e.getMessage().lines().findFirst().orElse(""), e);
        }
    }

    private static String text(Path file, JsonNode cfg, String key) {
        JsonNode n = cfg.get(key);
        if (n == null || !n.isTextual()) throw new UserException(file + ": config." + key + " is missing");
        return n.asText();
    }
}
