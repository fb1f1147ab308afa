package dev.cvpt.bench;

import dev.cvpt.engine.Attention;
import dev.cvpt.engine.Linear;
import dev.cvpt.engine.Native;
import dev.cvpt.engine.Precision;
import dev.cvpt.model.Backbones;
import dev.cvpt.model.MethodSpec;
import dev.cvpt.model.VisionTransformer;
import dev.cvpt.model.VitConfig;
import dev.cvpt.engine.DataParallel;
import dev.cvpt.train.AdamW;
import dev.cvpt.train.Optimizer;
import dev.cvpt.train.Steps;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.cvpt.engine.Tensors.scalar;
import static org.bytedeco.pytorch.global.torch.manual_seed;
import static org.bytedeco.pytorch.global.torch.randint;
import static org.bytedeco.pytorch.global.torch.randn;

/**
 * Training-step and inference throughput of this implementation, measured the way
 * {@code shared/reference/bench.py} measures the PyTorch baseline, with the same JSON fields.
 *
 * <p>Train step: zero the gradients, forward in training mode (prompt dropout 0.1, drop-path 0.1),
 * cross-entropy, backward, AdamW (lr 1e-3, wd 0.05) on the trainables. Infer step: eval-mode forward
 * of the batch without autograd. Weights and the batch are random (speed does not depend on them).
 * Memory: {@code peak_rss_mib} is the process's VmHWM; {@code rss_step20_mib} / {@code rss_last_mib} its
 * VmRSS after step 20 and after the last step, each read after a full GC and malloc_trim (memory in
 * use: a leak shows as a difference between them); {@code *_untrimmed_mib} and {@code rss_mib_all}
 * are the plain VmRSS readings.
 */
public final class Bench {
    /** bench.py's method names → (method, deep). */
    public static final List<String> METHODS = List.of("cvpt", "cvpt-shallow", "vpt-deep", "vpt-shallow", "linear", "full",
            "vfpt", "e2vpt", "spt");
    public static final List<String> SIZES = List.of("micro", "tiny", "small", "base");

    public record Options(String method, String size, int batch, int steps, int warmup, int threads, String mode,
                          int prompts, int insert, int numClasses, long seed, java.util.Map<String, Object> options) {
        public Options(String method, String size, int batch, int steps, int warmup, int threads, String mode,
                       int prompts, int insert, int numClasses, long seed) {
            this(method, size, batch, steps, warmup, threads, mode, prompts, insert, numClasses, seed, java.util.Map.of());
        }

        /** These options with the method's named options (the prompt methods' flags). */
        public Options withOptions(java.util.Map<String, Object> o) {
            return new Options(method, size, batch, steps, warmup, threads, mode, prompts, insert, numClasses, seed, o);
        }

        public Options {
            options = options == null ? java.util.Map.of() : java.util.Map.copyOf(options);
            if (!METHODS.contains(method)) throw new IllegalArgumentException("unknown method '" + method + "' " + METHODS);
            if (!SIZES.contains(size)) throw new IllegalArgumentException("unknown size '" + size + "' " + SIZES);
            if (!List.of("train", "infer", "gemm", "precision").contains(mode))
                throw new IllegalArgumentException("mode is train, infer, gemm or precision, got " + mode);
            if (batch < 1 || steps < 1 || warmup < 0 || threads < 1 || prompts < 1 || numClasses < 1)
                throw new IllegalArgumentException("batch, steps, threads, prompts and classes must be positive, warmup not negative");
        }
    }

    private Bench() {}

    /** The ViT sizes of cvpt_ref.py's SIZES. */
    public static VitConfig config(String size) {
        return switch (size) {
            case "micro" -> new VitConfig(64, 4, 4, 8, 32, 256);
            case "tiny" -> new VitConfig(192, 12, 3, 16, 224, 768);
            case "small" -> new VitConfig(384, 12, 6, 16, 224, 1536);
            case "base" -> new VitConfig(768, 12, 12, 16, 224, 3072);
            default -> throw new IllegalArgumentException(size);
        };
    }

    public static MethodSpec spec(Options o) {
        return switch (o.method()) {
            case "cvpt" -> new MethodSpec("cvpt", o.insert(), o.prompts(), true, 0.1);
            case "cvpt-shallow" -> new MethodSpec("cvpt", o.insert(), o.prompts(), false, 0.1);
            case "vpt-deep" -> new MethodSpec("vpt", o.insert(), o.prompts(), true, 0.1);
            case "vpt-shallow" -> new MethodSpec("vpt", o.insert(), o.prompts(), false, 0.1);
            case "linear" -> new MethodSpec("linear", o.insert(), o.prompts(), true, 0.1);
            case "full" -> new MethodSpec("full", o.insert(), o.prompts(), true, 0.1);
            // the prompt methods of the related work with their defaults (VFPT α 0.5, E2VPT 5 KV prompts and
            // prompt dropout 0.1, SPT deep; the init does not change the speed)
            case "vfpt", "e2vpt", "spt" -> new MethodSpec(o.method(), o.insert(), o.prompts(), true, 0.1, o.options());
            default -> throw new IllegalArgumentException(o.method());
        };
    }

    /** Random backbone tensors with ViT-like scales (weights N(0, 1/fan_in), biases N(0, 0.02²)). */
    public static Map<String, Tensor> randomBackbone(VitConfig cfg) {
        Map<String, Tensor> p = new LinkedHashMap<>();
        for (var e : Backbones.expectedShapes(cfg).entrySet()) {
            long[] s = e.getValue();
            Tensor t = randn(s);   // scaled in place: no temporaries left for the GC
            if (e.getKey().endsWith("norm1.weight") || e.getKey().endsWith("norm2.weight") || e.getKey().equals("norm.weight")) {
                t.mul_(scalar(0.1)).add_(scalar(1));
            } else if (s.length >= 2 && !e.getKey().equals("cls_token") && !e.getKey().equals("pos_embed")) {
                long fanIn = Arrays.stream(s).skip(1).reduce(1, (a, b) -> a * b);
                t.mul_(scalar(1 / Math.sqrt(fanIn)));
            } else {
                t.mul_(scalar(e.getKey().endsWith("bias") ? 0.02 : 0.1));
            }
            p.put(e.getKey(), t);
        }
        return p;
    }

    /** Runs the benchmark and returns bench.py's fields (plus a few of our own). */
    public static Map<String, Object> run(Options o) {
        Native.configureThreads();
        if (o.mode().equals("gemm")) return gemm(o);
        if (o.mode().equals("precision")) return precisionError(o);
        manual_seed(o.seed());
        VitConfig cfg = config(o.size());
        MethodSpec spec = spec(o);
        VisionTransformer vit = Backbones.assemble(
                new Backbones.Backbone(Path.of("random-" + o.size()), cfg, randomBackbone(cfg)), spec, o.numClasses());
        vit.dropPathRate(0.1);
        Map<String, Tensor> trainable = vit.trainableParameters();
        long trainableCount = trainable.values().stream().mapToLong(Tensor::numel).sum();
        // the method's official optimizer: SGD (momentum 0.9) for VFPT/E2VPT, AdamW otherwise
        Optimizer opt = spec.method().matches("vfpt|e2vpt") ? new dev.cvpt.train.Sgd(trainable, 1e-3, 0.9) : new AdamW(trainable, 0.05);
        Tensor x = randn(o.batch(), 3, cfg.img(), cfg.img());
        Tensor y = randint(o.numClasses(), new long[]{o.batch()});
        boolean train = o.mode().equals("train");

        double rssModel = status("VmHWM");
        List<Double> times = new ArrayList<>(), cpu = new ArrayList<>(), rss = new ArrayList<>();
        double rss20 = Double.NaN, rss20raw = Double.NaN;
        int total = o.warmup() + o.steps();
        try (DataParallel dp = new DataParallel(o.threads())) {
        for (int i = 0; i < total; i++) {
            long t0 = System.nanoTime();
            double c0 = cpuSeconds();
            try (PointerScope scope = new PointerScope()) {
                if (train) {
                    opt.zeroGrad();
                    Steps.forwardBackward(dp, vit, x, y);
                    opt.step(1e-3);
                } else {
                    Steps.predict(dp, vit, x);
                }
            }
            times.add((System.nanoTime() - t0) / 1e9);
            cpu.add(cpuSeconds() - c0);
            rss.add(status("VmRSS"));
            if (i + 1 == Math.min(20, total)) {
                rss20raw = status("VmRSS");
                rss20 = inUse();
            }
        }
        }
        double rssLastRaw = status("VmRSS"), rssLast = inUse();
        List<Double> timed = new ArrayList<>(times.subList(o.warmup(), total));
        timed.sort(null);
        int n = timed.size();
        double med = n % 2 == 1 ? timed.get(n / 2) : (timed.get(n / 2 - 1) + timed.get(n / 2)) / 2;

        Map<String, Object> m = new LinkedHashMap<>();
        m.put("code", "cvpt-java");
        m.put("mode", o.mode());
        m.put("method", o.method());
        m.put("size", o.size());
        m.put("dim", cfg.dim());
        m.put("depth", cfg.depth());
        m.put("heads", cfg.heads());
        m.put("patch", cfg.patch());
        m.put("img", cfg.img());
        m.put("batch", o.batch());
        m.put("prompts", spec.usesPrompts() ? o.prompts() : 0);
        m.put("insert", spec.method().equals("cvpt") ? o.insert() : null);
        m.put("threads", o.threads());
        m.put("warmup", o.warmup());
        m.put("steps", o.steps());
        m.put("step_s_median", round(med, 4));
        m.put("steps_per_s", round(1 / med, 4));
        m.put("images_per_s", round(o.batch() / med, 2));
        m.put("step_s_all", times.stream().map(t -> round(t, 4)).toList());
        m.put("cpu_s_all", cpu.stream().map(t -> round(t, 2)).toList());
        m.put("trainable_params", trainableCount);
        m.put("rss_model_mib", round(rssModel, 1));
        m.put("peak_rss_mib", round(status("VmHWM"), 1));
        m.put("rss_step20_mib", round(rss20, 1));
        m.put("rss_last_mib", round(rssLast, 1));
        m.put("rss_step20_untrimmed_mib", round(rss20raw, 1));
        m.put("rss_last_untrimmed_mib", round(rssLastRaw, 1));
        m.put("rss_mib_all", rss.stream().map(t -> round(t, 0)).toList());
        m.put("torch", "libtorch 2.10.0 (JavaCPP 1.5.13)");
        m.put("torch_threads", Native.threads());
        m.put("workers", o.threads());
        m.put("openblas_threads", Native.blasThreads());
        m.put("openblas_coretype", Native.blasCoreType());
        m.put("gemm_backend", Linear.backendName());
        m.put("attention", Attention.backendName());
        m.put("precision", Precision.current().flag());
        m.put("cpu_capability", Native.cpuCapability());
        m.put("thp_alloc", Native.hugePages());
        m.put("thp_kernel", Native.kernelHugePages());
        m.put("glibc_tunables", Native.mallocTunables());
        return m;
    }

    /**
     * The GEMM roofline as this engine reaches it: the model's linear ({@link Linear}: oneDNN or
     * OpenBLAS, see gemm_backend) on the ViT's fc1 shape [batch·tokens, C] × [C, 4C] (float32, frozen
     * weight), the rows split over the workers as the model's steps are.
     */
    static Map<String, Object> gemm(Options o) {
        VitConfig cfg = config(o.size());
        long m = (long) o.batch() * cfg.tokens(), k = cfg.dim(), n = cfg.mlpHidden();
        Tensor a = randn(m, k), w32 = randn(n, k);
        // as the model holds a frozen weight: a bf16 copy under bf16
        Tensor weight = Precision.current() == Precision.BF16 ? w32.to(org.bytedeco.pytorch.global.torch.ScalarType.BFloat16) : w32;
        List<Double> times = new ArrayList<>();
        try (DataParallel dp = new DataParallel(o.threads())) {
            for (int i = 0; i < o.warmup() + o.steps(); i++) {
                long t0 = System.nanoTime();
                dp.map(m, false, (c, start, len) -> {
                    try (PointerScope s = new PointerScope()) {
                        Linear.linear(DataParallel.rows(a, start, len), weight, null);
                        return 0;
                    }
                });
                times.add((System.nanoTime() - t0) / 1e9);
            }
        }
        List<Double> timed = new ArrayList<>(times.subList(o.warmup(), times.size()));
        timed.sort(null);
        double med = timed.get(timed.size() / 2);
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("code", "cvpt-java");
        r.put("mode", "gemm");
        r.put("shape", List.of(m, k, n));
        r.put("threads", o.threads());
        r.put("openblas_coretype", Native.blasCoreType());
        r.put("gemm_backend", Linear.backendName());
        r.put("precision", Precision.current().flag());
        r.put("thp_alloc", Native.hugePages());
        r.put("thp_kernel", Native.kernelHugePages());
        r.put("glibc_tunables", Native.mallocTunables());
        r.put("gflop_per_s_median", round(2.0 * m * k * n / med / 1e9, 1));
        r.put("gflop_per_s_best", round(2.0 * m * k * n / timed.get(0) / 1e9, 1));
        r.put("step_s_all", times.stream().map(t -> round(t, 4)).toList());
        return r;
    }

    /**
     * What bf16 costs in accuracy: the eval logits of one random model (backbone, prompts, head) on one
     * random batch, with the backbone loaded in fp32 and in bf16. Reports the relative error of the bf16
     * logits (max |Δ| / max |fp32|, and ‖Δ‖ / ‖fp32‖) and how often the top-1 class agrees.
     */
    static Map<String, Object> precisionError(Options o) {
        VitConfig cfg = config(o.size());
        manual_seed(o.seed());
        Map<String, Tensor> backbone = randomBackbone(cfg);
        Tensor x = randn(o.batch(), 3, cfg.img(), cfg.img());
        Precision was = Precision.current();
        float[][] logits = new float[2][];
        try (DataParallel dp = new DataParallel(o.threads())) {
            for (Precision p : List.of(Precision.FP32, Precision.BF16)) {
                Precision.use(p);
                manual_seed(o.seed() + 1);   // the same prompts and head for both
                VisionTransformer vit = Backbones.assemble(new Backbones.Backbone(Path.of("random-" + o.size()), cfg, backbone), spec(o), o.numClasses());
                List<float[]> parts = dp.map(o.batch(), false, (c, start, len) -> {
                    try (PointerScope s = new PointerScope(); org.bytedeco.pytorch.NoGradGuard g = new org.bytedeco.pytorch.NoGradGuard()) {
                        return dev.cvpt.engine.Tensors.toFloats(vit.forward(DataParallel.rows(x, start, len), false));
                    }
                });
                int n = parts.stream().mapToInt(a -> a.length).sum(), at = 0;
                logits[p.ordinal()] = new float[n];
                for (float[] a : parts) {
                    System.arraycopy(a, 0, logits[p.ordinal()], at, a.length);
                    at += a.length;
                }
            }
        } finally {
            Precision.use(was);
        }
        float[] f = logits[0], b = logits[1];
        double maxD = 0, maxF = 0, sumD = 0, sumF = 0;
        for (int i = 0; i < f.length; i++) {
            double d = b[i] - f[i];
            maxD = Math.max(maxD, Math.abs(d));
            maxF = Math.max(maxF, Math.abs(f[i]));
            sumD += d * d;
            sumF += (double) f[i] * f[i];
        }
        int k = o.numClasses(), agree = 0;
        for (int r = 0; r < o.batch(); r++) {
            int af = 0, ab = 0;
            for (int j = 1; j < k; j++) {
                if (f[r * k + j] > f[r * k + af]) af = j;
                if (b[r * k + j] > b[r * k + ab]) ab = j;
            }
            if (af == ab) agree++;
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("code", "cvpt-java");
        m.put("mode", "precision");
        m.put("method", o.method());
        m.put("size", o.size());
        m.put("batch", o.batch());
        m.put("classes", k);
        m.put("logits_rel_max", maxD / maxF);
        m.put("logits_rel_rms", Math.sqrt(sumD / sumF));
        m.put("top1_agreement", round(100.0 * agree / o.batch(), 2));
        m.put("cpu_capability", Native.cpuCapability());
        return m;
    }

    private static double round(double v, int digits) {
        if (Double.isNaN(v)) return v;
        double f = Math.pow(10, digits);
        return Math.round(v * f) / f;
    }

    /**
     * VmRSS after a full GC and malloc_trim: the memory in use, without what the Java heap and
     * glibc's arenas hold on to between collections (the leak check compares these).
     */
    static double inUse() {
        System.gc();
        org.bytedeco.javacpp.Pointer.trimMemory();
        return status("VmRSS");
    }

    /** User + system CPU time of the process (all threads) from /proc/self/stat; NaN where there is none. */
    public static double cpuSeconds() {
        try {
            String st = Files.readString(Path.of("/proc/self/stat"));
            String[] f = st.substring(st.lastIndexOf(')') + 2).split(" ");
            return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0;   // utime, stime in ticks (USER_HZ 100)
        } catch (IOException | RuntimeException e) {
            return Double.NaN;
        }
    }

    /** A memory line of /proc/self/status (VmHWM, VmRSS) in MiB; NaN where there is no /proc. */
    public static double status(String key) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(key + ":")) {
                    String[] f = line.substring(key.length() + 1).trim().split("\\s+");
                    return Long.parseLong(f[0]) / 1024.0;   // kB
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: no figure
        }
        return Double.NaN;
    }
}
