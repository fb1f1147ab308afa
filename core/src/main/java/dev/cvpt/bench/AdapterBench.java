package dev.cvpt.bench;

import dev.cvpt.UserException;
import dev.cvpt.engine.DataParallel;
import dev.cvpt.engine.Native;
import dev.cvpt.engine.Tensors;
import dev.cvpt.model.Backbones;
import dev.cvpt.model.Dyt;
import dev.cvpt.model.Lora;
import dev.cvpt.model.MethodSpec;
import dev.cvpt.model.VisionTransformer;
import dev.cvpt.model.VitConfig;
import dev.cvpt.serve.Predictor;
import dev.cvpt.train.Optimizer;
import dev.cvpt.train.Recipe;
import dev.cvpt.train.Steps;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.function.Supplier;

import static org.bytedeco.pytorch.global.torch.manual_seed;
import static org.bytedeco.pytorch.global.torch.randint;
import static org.bytedeco.pytorch.global.torch.randn;

/**
 * Throughput of the adapter methods, each against its baseline in the same run (timed in
 * alternation, medians): {@code infer} for dyt: the learned gates (the MLP on the kept tokens only)
 * vs every token through the MLP, with the mean gate rate; for lora: the LoRA model, the model with
 * LoRA merged into qkv, and the plain backbone; for adapter and adaptformer: the method vs the plain
 * backbone. {@code train}: training steps (the method's objective, backward, its recipe's
 * optimizer). The model is the task file's (with its learned tensors) when one is given, else random
 * weights of a bench size.
 */
public final class AdapterBench {
    private AdapterBench() {}

    public record Options(MethodSpec spec, String size, int batch, int steps, int warmup, int threads, String mode,
                          int numClasses, long seed, Path task, Path checkpoint) {}

    public static Map<String, Object> run(Options o) {
        Native.configureThreads();
        if (!List.of("train", "infer").contains(o.mode()))
            throw new UserException("--mode for " + o.spec().method() + " is train or infer, got " + o.mode());
        if (o.batch() < 1 || o.steps() < 1 || o.warmup() < 0 || o.threads() < 1)
            throw new UserException("--batch, --steps and --threads must be positive, --warmup not negative");
        manual_seed(o.seed());
        Backbones.Backbone bb;
        VisionTransformer vit;
        Predictor predictor = null;
        if (o.task() != null) {
            Path ckpt = Predictor.backboneOf(dev.cvpt.train.TaskFile.read(o.task()), o.checkpoint());
            predictor = Predictor.load(ckpt, OptionalInt.empty());
            vit = predictor.addTask(o.task()).model();
            bb = predictor.backbone();
            if (!vit.method().name().equals(o.spec().method()))
                throw new UserException(o.task() + ": a " + vit.method().name() + " task file, not " + o.spec().method());
        } else {
            VitConfig cfg = Bench.config(o.size());
            bb = new Backbones.Backbone(Path.of("random-" + o.size()), cfg, Bench.randomBackbone(cfg));
            vit = Backbones.assemble(bb, o.spec(), o.numClasses());
        }
        VitConfig cfg = bb.config();
        Tensor x = randn(o.batch(), 3, cfg.img(), cfg.img());
        Tensor y = randint(vit.numClasses(), new long[]{o.batch()});
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("code", "cvpt-java");
        m.put("mode", o.mode());
        m.put("method", o.spec().method());
        m.put("options", o.spec().options());
        m.put("model", o.task() != null ? o.task().toString() : "random " + o.size());
        m.put("dim", cfg.dim());
        m.put("depth", cfg.depth());
        m.put("img", cfg.img());
        m.put("batch", o.batch());
        m.put("threads", o.threads());
        m.put("steps", o.steps());
        m.put("trainable_params", vit.trainableParameters().values().stream().mapToLong(Tensor::numel).sum());
        try (DataParallel dp = new DataParallel(o.threads())) {
            Map<String, Supplier<Object>> runs = new LinkedHashMap<>();
            if (o.mode().equals("train")) {
                vit.dropPathRate(0.1);
                Optimizer opt = Recipe.official().optimizer(vit.trainableParameters());
                runs.put(o.spec().method(), () -> {
                    opt.zeroGrad();
                    Steps.forwardBackward(dp, vit, x, y);
                    opt.step(1e-3);
                    return null;
                });
            } else {
                runs.put(o.spec().method(), () -> Steps.predict(dp, vit, x));
                VisionTransformer plain = Backbones.assemble(bb, new MethodSpec("linear", 3, 1, true, 0), vit.numClasses());
                if (vit.method() instanceof Dyt dyt) {
                    runs.put("all_tokens", () -> {
                        try (NoGradGuard g = new NoGradGuard()) {
                            return dyt.forward(vit, x, false, true, "", null).logits();
                        }
                    });
                    try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
                        Dyt.Forward f = dyt.forward(vit, x, false, false, "", null);
                        float[] gates = Tensors.toFloats(f.tokenSelect());
                        double sum = 0;
                        for (float v : gates) sum += v;
                        m.put("gate_rate", round(sum / gates.length, 4));
                        float[] perLayer = Tensors.toFloats(f.tokenSelect().mean(new long[]{0, 2, 3}));
                        List<Double> pl = new ArrayList<>();
                        for (float v : perLayer) pl.add(round(v, 4));
                        m.put("gate_rate_per_block", pl);
                    }
                } else if (vit.method() instanceof Lora lora) {
                    Map<String, Tensor> merged = new LinkedHashMap<>(bb.params());
                    try (NoGradGuard g = new NoGradGuard()) {
                        for (int i = 0; i < cfg.depth(); i++) {
                            Tensor w = lora.mergedQkv(vit, i).contiguous();
                            w.retainReference();
                            merged.put("blocks." + i + ".attn.qkv.weight", w);
                        }
                    }
                    VisionTransformer mv = Backbones.assemble(new Backbones.Backbone(bb.file(), cfg, merged),
                            new MethodSpec("linear", 3, 1, true, 0), vit.numClasses());
                    try (NoGradGuard g = new NoGradGuard()) {
                        mv.param("head.weight").copy_(vit.param("head.weight"));
                        mv.param("head.bias").copy_(vit.param("head.bias"));
                        try (PointerScope s = new PointerScope()) {
                            float[] a = Tensors.toFloats(vit.forward(x, false)), b = Tensors.toFloats(mv.forward(x, false));
                            double d = 0, sc = 0;
                            for (int i = 0; i < a.length; i++) { d = Math.max(d, Math.abs(a[i] - b[i])); sc = Math.max(sc, Math.abs(a[i])); }
                            m.put("merged_logits_rel", d / sc);
                        }
                    }
                    runs.put("merged", () -> Steps.predict(dp, mv, x));
                }
                runs.put("plain_backbone", () -> Steps.predict(dp, plain, x));
            }
            Map<String, List<Double>> times = new LinkedHashMap<>();
            runs.keySet().forEach(k -> times.put(k, new ArrayList<>()));
            for (int i = 0; i < o.warmup() + o.steps(); i++)
                for (var e : runs.entrySet()) {
                    long t0 = System.nanoTime();
                    try (PointerScope s = new PointerScope()) {
                        e.getValue().get();
                    }
                    if (i >= o.warmup()) times.get(e.getKey()).add((System.nanoTime() - t0) / 1e9);
                }
            Map<String, Object> ips = new LinkedHashMap<>();
            times.forEach((k, t) -> ips.put(k, round(o.batch() / median(t), 2)));
            m.put("images_per_s", ips);
            double base = o.batch() / median(times.get(o.spec().method()));
            Map<String, Object> ratios = new LinkedHashMap<>();
            times.forEach((k, t) -> { if (!k.equals(o.spec().method())) ratios.put(o.spec().method() + "/" + k, round(base / (o.batch() / median(t)), 3)); });
            if (times.containsKey("merged")) ratios.put("merged/plain_backbone", round(median(times.get("plain_backbone")) / median(times.get("merged")), 3));
            m.put("speed_ratios", ratios);
            m.put("step_s_all", times);
        } finally {
            if (predictor != null) predictor.close();
        }
        return m;
    }

    private static double median(List<Double> t) {
        List<Double> s = new ArrayList<>(t);
        s.sort(null);
        int n = s.size();
        return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
    }

    private static double round(double v, int digits) {
        double f = Math.pow(10, digits);
        return Math.round(v * f) / f;
    }
}
