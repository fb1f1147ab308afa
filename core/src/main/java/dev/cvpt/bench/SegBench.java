package dev.cvpt.bench;

import dev.cvpt.engine.DataParallel;
import dev.cvpt.engine.Linear;
import dev.cvpt.engine.Native;
import dev.cvpt.model.Backbones;
import dev.cvpt.model.VitConfig;
import dev.cvpt.model.seg.SegModel;
import dev.cvpt.model.seg.SegSpec;
import dev.cvpt.train.PolyLr;
import dev.cvpt.train.Sgd;
import dev.cvpt.train.seg.SegSteps;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.bytedeco.pytorch.global.torch.manual_seed;
import static org.bytedeco.pytorch.global.torch.randint;
import static org.bytedeco.pytorch.global.torch.randn;

/**
 * Segmentation throughput on random weights, measured as {@code scripts/seg_bench_baseline.py} measures the
 * PyTorch oracle (seg_ref.py), with the same JSON fields. {@code train}: one SGD step of the official
 * recipe on a batch of crops (forward with dropouts, BN over the batch, 4 head losses, backward, SGD with
 * the head lr ×10 and poly lr). {@code slide}: slide inference of one image (crop, stride; decode head only).
 */
public final class SegBench {
    public record Options(String size, String mode, String method, int batch, int steps, int warmup, int threads,
                          int crop, int stride, int imageH, int imageW, int numClasses, long seed) {
        public Options {
            if (!List.of("train", "slide").contains(mode)) throw new IllegalArgumentException("--mode is train or slide, got " + mode);
            if (!Bench.SIZES.contains(size)) throw new IllegalArgumentException("unknown size '" + size + "' " + Bench.SIZES);
            if (batch < 1 || steps < 1 || warmup < 0 || threads < 1 || crop < 16 || stride < 1 || numClasses < 1)
                throw new IllegalArgumentException("batch, steps, threads, crop, stride and classes must be positive, warmup not negative");
        }
    }

    private SegBench() {}

    public static Map<String, Object> run(Options o) {
        Native.configureThreads();
        manual_seed(o.seed());
        VitConfig base = Bench.config(o.size());
        VitConfig cfg = new VitConfig(base.dim(), base.depth(), base.heads(), base.patch(), base.img(), base.mlpHidden());
        SegSpec spec = SegSpec.official(o.method(), cfg.depth(), cfg.patch(), o.crop(), o.numClasses());
        SegModel m = SegModel.assemble(new Backbones.Backbone(Path.of("random-" + o.size()), cfg, Bench.randomBackbone(cfg)), spec);
        Map<String, Tensor> trainable = m.trainableParameters();
        Sgd opt = Sgd.momentum(trainable, 0.9);
        PolyLr poly = new PolyLr(160000, 0.9, 1e-4);
        boolean train = o.mode().equals("train");
        Tensor x = train ? randn(o.batch(), 3, o.crop(), o.crop()) : randn(1, 3, o.imageH(), o.imageW());
        Tensor y = randint(o.numClasses(), new long[]{o.batch(), o.crop(), o.crop()});
        List<Double> times = new ArrayList<>();
        int total = o.warmup() + o.steps();
        int windows = SegModel.windows(o.imageH(), o.imageW(), o.crop(), o.crop(), o.stride(), o.stride()).size();
        try (DataParallel dp = new DataParallel(o.threads())) {
            for (int i = 0; i < total; i++) {
                long t0 = System.nanoTime();
                try (PointerScope s = new PointerScope()) {
                    if (train) {
                        opt.zeroGrad();
                        SegSteps.forwardBackward(dp, m, x, y, true);
                        long it = i;
                        opt.step(n -> poly.at(n.contains("head") ? 1e-2 : 1e-3, it));
                    } else {
                        m.slide(x, o.crop(), o.crop(), o.stride(), o.stride(), o.imageH(), o.imageW(), dp);
                    }
                }
                times.add((System.nanoTime() - t0) / 1e9);
            }
        }
        List<Double> timed = new ArrayList<>(times.subList(o.warmup(), total));
        timed.sort(null);
        int n = timed.size();
        double med = n % 2 == 1 ? timed.get(n / 2) : (timed.get(n / 2 - 1) + timed.get(n / 2)) / 2;
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("code", "cvpt-java");
        r.put("task", "segmentation");
        r.put("mode", o.mode());
        r.put("method", o.method());
        r.put("size", o.size());
        r.put("dim", cfg.dim());
        r.put("depth", cfg.depth());
        r.put("out_indices", spec.outIndices());
        r.put("crop", o.crop());
        r.put("batch", train ? o.batch() : 1);
        if (!train) {
            r.put("image_hw", List.of(o.imageH(), o.imageW()));
            r.put("stride", o.stride());
            r.put("windows", windows);
        }
        r.put("num_classes", o.numClasses());
        r.put("threads", o.threads());
        r.put("warmup", o.warmup());
        r.put("steps", o.steps());
        r.put("step_s_median", Math.round(med * 1e4) / 1e4);
        r.put("images_per_s", Math.round((train ? o.batch() : 1) / med * 1e4) / 1e4);
        r.put("step_s_all", times.stream().map(t -> Math.round(t * 1e4) / 1e4).toList());
        r.put("peak_rss_mib", Math.round(Bench.status("VmHWM")));
        r.put("torch", "libtorch 2.10.0 (JavaCPP 1.5.13)");
        r.put("gemm_backend", Linear.backendName());
        r.put("cpu_capability", Native.cpuCapability());
        return r;
    }
}
