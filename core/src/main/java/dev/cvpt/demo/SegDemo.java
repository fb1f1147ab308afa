package dev.cvpt.demo;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cvpt.io.AtomicFiles;
import dev.cvpt.io.Checkpoint;
import dev.cvpt.model.Backbones;
import dev.cvpt.model.VitConfig;
import dev.cvpt.model.seg.SegSpec;
import dev.cvpt.synth.SegSynth;
import dev.cvpt.train.TaskFile;
import dev.cvpt.train.seg.SegRecipe;
import dev.cvpt.train.seg.SegTrainer;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalInt;

/**
 * {@code cvpt demo --segmentation}: the synthetic segmentation task (seg-data's {@link SegSynth}: shapes whose
 * kind is the class, on a cloudy background, ADE20K layout) tuned on the shipped demo backbone with head-only,
 * VPT and CVPT (same recipe, SETR-PUP + aux heads), mIoU on the validation split by slide inference.
 */
public final class SegDemo {
    public static final List<String> METHODS = List.of("head", "vpt", "cvpt");

    /** Sizes of the demo. */
    public record Settings(int train, int val, int iters, int batch, double lr, int channels, int crop, long seed, int threads) {
        public static Settings defaults(int threads) { return new Settings(400, 100, 300, 8, 1e-2, 64, 32, 0, threads); }
    }

    public record Cell(String method, double mIoU, double mAcc, double aAcc, double seconds, Path taskFile) {}

    private SegDemo() {}

    public static SegSpec spec(String method, VitConfig cfg, Settings s) {
        return SegSpec.official(method, cfg.depth(), cfg.patch(), s.crop(), 1).withChannels(s.channels());
    }

    public static SegRecipe recipe(Settings s) {
        return new SegRecipe(s.iters(), s.batch(), s.lr(), 10, 0.9, 0, 0.9, 1e-4, s.iters(), Math.max(1, s.iters() / 4), s.seed(),
                s.crop(), Math.max(1, s.crop() * 2 / 3), 4 * s.crop(), s.crop());
    }

    public static List<Cell> run(Path out, Path backbone, Settings s, PrintStream log) throws IOException {
        Files.createDirectories(out);
        Path ckpt = backbone != null ? backbone : Demo.shippedBackbone(out);
        Checkpoint c = Checkpoint.load(ckpt);
        VitConfig cfg = Backbones.configOf(ckpt, c.tensors(), c.heads());
        Path data = SegSynth.write(out.resolve("data").resolve("shapes-seg"), s.train(), s.val(), s.seed());
        List<Cell> cells = new ArrayList<>();
        for (String method : METHODS) {
            Path run = out.resolve("runs").resolve("seg-" + method);
            Path metrics = run.resolve("metrics.json");
            long t0 = System.nanoTime();
            if (!Files.exists(metrics)) {
                log.println("== segmentation / " + method);
                SegTrainer.run(new SegTrainer.Options(data, ckpt, OptionalInt.empty(), run, spec(method, cfg, s), recipe(s), s.threads(), false,
                        "shapes-seg"), Files.exists(run.resolve(SegTrainer.STATE)), log);
            }
            JsonNode m = TaskFile.JSON.readTree(Files.readString(metrics));
            cells.add(new Cell(method, m.path("mIoU").asDouble(), m.path("mAcc").asDouble(), m.path("aAcc").asDouble(),
                    (System.nanoTime() - t0) / 1e9, run.resolve("shapes-seg.safetensors")));
        }
        write(out, cells, s);
        return cells;
    }

    static void write(Path out, List<Cell> cells, Settings s) throws IOException {
        Map<String, Cell> by = new LinkedHashMap<>();
        cells.forEach(c -> by.put(c.method(), c));
        StringBuilder md = new StringBuilder(String.format(Locale.ROOT,
                "# cvpt demo --segmentation: synthetic shapes (4 classes), validation by slide inference%n%n"
                        + "%d train / %d val images, %d iterations of %d crops %dx%d, SGD lr %.3g (heads x10), head channels %d%n%n"
                        + "| method | mIoU | mAcc | aAcc |%n|---|---|---|---|%n", s.train(), s.val(), s.iters(), s.batch(), s.crop(), s.crop(),
                s.lr(), s.channels()));
        for (Cell c : cells)
            md.append(String.format(Locale.ROOT, "| %s | %.2f | %.2f | %.2f |%n", label(c.method()), 100 * c.mIoU(), 100 * c.mAcc(), 100 * c.aAcc()));
        Cell h = by.get("head"), v = by.get("cvpt");
        if (h != null && v != null) md.append(String.format(Locale.ROOT, "%nCVPT − head-only: %+.2f mIoU%n", 100 * (v.mIoU() - h.mIoU())));
        AtomicFiles.write(out.resolve("seg-demo.md"), o -> o.write(md.toString().getBytes(StandardCharsets.UTF_8)));
        String js = TaskFile.JSON.writeValueAsString(Map.of("settings", s, "results", cells.stream().map(c -> Map.of("method", c.method(),
                "mIoU", c.mIoU(), "mAcc", c.mAcc(), "aAcc", c.aAcc(), "task_file", c.taskFile().toString())).toList()));
        AtomicFiles.write(out.resolve("seg-demo.json"), o -> o.write(js.getBytes(StandardCharsets.UTF_8)));
    }

    static String label(String m) {
        return switch (m) {
            case "head" -> "head-only";
            case "vpt" -> "VPT-deep";
            case "cvpt" -> "CVPT";
            default -> m;
        };
    }
}
