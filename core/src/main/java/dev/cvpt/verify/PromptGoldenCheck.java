package dev.cvpt.verify;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cvpt.UserException;
import dev.cvpt.engine.Linear;
import dev.cvpt.engine.Native;
import dev.cvpt.engine.Tensors;
import dev.cvpt.io.Checkpoint;
import dev.cvpt.io.HostTensor;
import dev.cvpt.io.Npz;
import dev.cvpt.model.Backbones;
import dev.cvpt.model.E2vpt;
import dev.cvpt.model.MethodSpec;
import dev.cvpt.model.Prototypes;
import dev.cvpt.model.Vfpt;
import dev.cvpt.model.VisionTransformer;
import dev.cvpt.train.Optimizer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

import static org.bytedeco.pytorch.global.torch.cross_entropy;

/**
 * Golden cases of the prompt methods of the related work (shared/golden/methods/{vfpt,e2vpt,spt}):
 * the model from the config's options, trainables from {@code init/*} (SPT: the prototype init is
 * recomputed from {@code proto_images} and {@code noise/prompt_select} and compared as
 * {@code init/prompt_token}), given masks {@code mask/*}, given prompt-dropout draws
 * {@code noise/prompt_dropout} (then the step's forward and backward run in training mode), then
 * forward, loss, backward, the config's optimizer step, forward again; VFPT cases take a second step
 * ({@code grad2/*}, {@code after2/*} relative to {@code |after2 − after|}). Tolerances as
 * {@link GoldenCheck}; an entry the case lists in {@code fp32_noise} (its float32-vs-float64
 * conditioning) gets {@code max(usual, FP32_NOISE_MULTIPLE × fp32_noise)}.
 */
public final class PromptGoldenCheck {
    /** The multiple of a case's fp32_noise an entry may differ by (when that is more than the usual bound). */
    public static final double FP32_NOISE_MULTIPLE = 4;

    private PromptGoldenCheck() {}

    public static boolean handles(String method) { return method.matches("vfpt|e2vpt|spt"); }

    /** The MethodSpec a case's config describes. */
    static MethodSpec spec(Path caseFile, JsonNode c) {
        String m = c.path("method").asText();
        return switch (m) {
            case "vfpt" -> new MethodSpec(m, 3, c.path("num_tokens").asInt(), c.path("deep").asBoolean(true), 0.0)
                    .withOption("fourier-fraction", c.path("fourier_percentage").asDouble())
                    .withOption("fourier-dimension", c.path("fourier_dimension").asText("all"))
                    .withOption("fourier-location", c.path("fourier_location").asText("prepend"))
                    .withOption("fourier-first-layer", c.path("fourier_first_layer").asBoolean(true));
            case "e2vpt" -> {
                if (!c.path("share_kv").asBoolean(true))
                    throw new UserException(caseFile + ": config.share_kv false is not supported (every official command shares K and V prompts)");
                yield new MethodSpec(m, 3, c.path("vis_prompts").asInt(), c.path("deep_visual").asBoolean(true), c.path("prompt_dropout").asDouble(0.1))
                        .withOption("kv-prompts", c.path("kv_prompts").asInt())
                        .withOption("kv-deep", c.path("deep_kv").asBoolean(true))
                        .withOption("mask", c.path("mask_mode").asText("none"))
                        .withOption("mask-pieces", c.path("mask_pieces").asInt(16));
            }
            case "spt" -> new MethodSpec(m, 3, c.path("num_prompts").asInt(), c.path("deep").asBoolean(true), 0.0)
                    .withOption("prompt-init", c.path("spt_strategy").asText());
            default -> throw new UserException(caseFile + ": config.method '" + m + "' is not a prompt method of this check");
        };
    }

    public static GoldenCheck.Result run(Path caseFile, Path checkpointFile, JsonNode root, Map<String, HostTensor> golden) {
        JsonNode cfg = root.get("config");
        Checkpoint ckpt = Checkpoint.load(checkpointFile);
        MethodSpec spec = spec(caseFile, cfg);
        int classes = cfg.path("num_classes").asInt(-1);
        OptionalInt heads = cfg.has("heads") ? OptionalInt.of(cfg.get("heads").asInt()) : ckpt.heads();
        double lr = cfg.path("lr").asDouble();
        JsonNode noiseTol = root.has("fp32_noise") ? root.get("fp32_noise") : null;
        Native.load();
        Map<String, float[]> ours = new LinkedHashMap<>();
        Map<String, HostTensor> computed = new LinkedHashMap<>();
        Map<String, GoldenCheck.Entry> entries = new LinkedHashMap<>();
        try (PointerScope scope = new PointerScope()) {
            VisionTransformer vit;
            try {
                vit = Backbones.build(checkpointFile, ckpt.tensors(), heads, spec, classes);
            } catch (IllegalArgumentException e) {
                throw new UserException(caseFile + ": config: " + e.getMessage());
            }
            Map<String, Tensor> trainable = vit.trainableParameters();
            try (NoGradGuard g = new NoGradGuard()) {
                trainable.forEach((n, t) -> {
                    if (!(n.equals("prompt_token") && golden.containsKey("proto_images")))
                        Tensors.copyInto(t, caseFile, golden, "init/" + n, "the case");
                });
                vit.method().buffers().forEach((n, t) -> Tensors.copyInto(t, caseFile, golden, "mask/" + n, "the case"));
                if (golden.containsKey("proto_images")) ours.putAll(prototypes(caseFile, cfg, golden, vit, spec));
            }
            boolean training = golden.containsKey("noise/prompt_dropout");
            if (training && vit.method() instanceof E2vpt e) {
                Tensor noise = Tensors.fromHost(golden.get("noise/prompt_dropout"));
                vit = vit.withMethod(e.withNoise(i -> noise.select(0, i)));
            }
            Tensor images = Tensors.fromHost(need(caseFile, golden, "images"));
            Tensor labels = Tensors.fromHost(need(caseFile, golden, "labels"));
            if (vit.method() instanceof Vfpt v)
                for (int i = 0; i < vit.config().depth(); i++)
                    if (golden.containsKey("prompts/" + i)) ours.put("prompts/" + i, Tensors.toFloats(v.layerPrompts(i)));

            Optimizer opt = GoldenCheck.optimizer(caseFile, cfg, trainable);
            int steps = cfg.path("steps").asInt(1);
            for (int s = 1; s <= steps; s++) {
                String sfx = s == 1 ? "" : Integer.toString(s);
                List<Tensor> taps = s == 1 ? new ArrayList<>() : null;
                opt.zeroGrad();
                Tensor feat, logits, loss;
                try (Linear.GradHooks hooks = Linear.gradHooks()) {
                    feat = vit.features(images, training, taps);
                    logits = vit.head(feat);
                    loss = cross_entropy(logits, labels);
                    loss.backward();
                }
                if (s == 1) {
                    ours.put("feat", Tensors.toFloats(feat));
                    ours.put("logits", Tensors.toFloats(logits));
                    ours.put("loss", Tensors.toFloats(loss));
                    HostTensor ge = golden.get("embed");
                    Tensor embed = taps.get(0);
                    if (ge != null && ge.rank() == 3 && ge.shape()[1] != embed.size(1))   // VFPT/SPT: the tokens entering block 0
                        try (NoGradGuard g = new NoGradGuard()) { embed = vit.method().beforeBlocks(vit, embed, false); }
                    ours.put("embed", Tensors.toFloats(embed));
                    for (int i = 1; i < taps.size(); i++) ours.put("blocks/" + (i - 1), Tensors.toFloats(taps.get(i)));
                }
                trainable.forEach((n, t) -> ours.put("grad" + sfx + "/" + n, Tensors.toFloats(t.grad())));
                opt.step(lr);
                trainable.forEach((n, t) -> ours.put("after" + sfx + "/" + n, Tensors.toFloats(t)));
                try (NoGradGuard g = new NoGradGuard()) {
                    Tensor after = vit.forward(images, false);
                    ours.put("logits_after" + sfx, Tensors.toFloats(after));
                    ours.put("loss_after" + sfx, Tensors.toFloats(cross_entropy(after, labels)));
                }
            }
            for (var e : ours.entrySet()) {
                String key = e.getKey();
                HostTensor g = golden.get(key);
                float[] mine = e.getValue();
                long[] shape = g != null && g.numel() == mine.length ? g.shape() : new long[]{mine.length};
                computed.put(key, HostTensor.ofFloats(mine, shape));
                if (g == null) continue;
                float[] ref = g.toFloats();
                if (ref.length != mine.length)
                    throw new UserException(caseFile + ": entry " + key + " has " + ref.length + " values, the model computed " + mine.length);
                GoldenCheck.Entry en;
                if (key.matches("after2?/.*")) {
                    String n = key.substring(key.indexOf('/') + 1);
                    String base = key.startsWith("after2/") ? "after/" + n : "init/" + n;
                    float[] from = need(caseFile, golden, base).toFloats();
                    float[] ourInit = ours.get("init/" + n);
                    if (key.startsWith("after/") && ourInit != null) {
                        // a recomputed init (SPT's prototypes) differs from the golden one by float rounding of the
                        // token values (compared as init/*): compare the update itself, ours − our init vs golden − golden init
                        float[] dm = new float[mine.length], dr = new float[ref.length];
                        for (int i = 0; i < dm.length; i++) { dm[i] = mine[i] - ourInit[i]; dr[i] = ref[i] - from[i]; }
                        GoldenCheck.Entry d = GoldenCheck.compare(dm, dr);
                        en = new GoldenCheck.Entry(d.maxAbs(), d.rel(), d.relConditioned(), GoldenCheck.RTOL_AFTER);
                    } else {
                        en = GoldenCheck.compareStep(mine, ref, from, null, lr, 0);
                    }
                } else {
                    en = GoldenCheck.compare(mine, ref);
                }
                if (noiseTol != null && noiseTol.has(key)) {
                    double tol = Math.max(en.tolerance(), FP32_NOISE_MULTIPLE * noiseTol.get(key).asDouble());
                    en = new GoldenCheck.Entry(en.maxAbs(), en.rel(), en.relConditioned(), tol);
                }
                entries.put(key, en);
            }
        }
        return new GoldenCheck.Result(caseFile, checkpointFile, entries, computed);
    }

    /** SPT: token sets and the prototype init from the case's images and selection; the init is copied into the model. */
    private static Map<String, float[]> prototypes(Path caseFile, JsonNode cfg, Map<String, HostTensor> golden,
                                                   VisionTransformer vit, MethodSpec spec) {
        Map<String, float[]> out = new LinkedHashMap<>();
        Tensor proto = Tensors.fromHost(golden.get("proto_images"));
        Tensor target = vit.method().prototypeTarget();
        int layers = (int) target.size(0);
        List<float[]> reps = Prototypes.tokenSets(vit, proto, layers);
        for (int i = 0; i < layers; i++) out.put("proto/reps/" + i, reps.get(i));
        long[][] sel = null;
        HostTensor s = golden.get("noise/prompt_select");
        if (s != null) {
            long[] flat = s.toLongs();
            int p = (int) s.shape()[1];
            sel = new long[(int) s.shape()[0]][p];
            for (int l = 0; l < sel.length; l++) System.arraycopy(flat, l * p, sel[l], 0, p);
        }
        Tensor init = Prototypes.compute(vit, List.of(proto), (int) proto.size(0), spec.stringOption("prompt-init", "random"),
                spec.prompts(), layers, sel, cfg.path("kmeans_iters").asInt(10));
        target.copy_(init);
        out.put("init/prompt_token", Tensors.toFloats(init));
        return out;
    }

    private static HostTensor need(Path file, Map<String, HostTensor> m, String name) {
        HostTensor t = m.get(name);
        if (t == null) throw new UserException(file + ": the case has no entry '" + name + "'");
        return t;
    }
}
