package dev.cvpt.demo;

import dev.cvpt.UserException;
import dev.cvpt.io.AtomicFiles;
import dev.cvpt.model.MethodSpec;
import dev.cvpt.synth.SyntheticTasks;
import dev.cvpt.train.Recipe;
import dev.cvpt.train.TaskFile;
import dev.cvpt.train.Trainer;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;

import java.io.IOException;
import java.io.InputStream;
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
 * The embedded demo: no downloads. Generates the synthetic VTAB-like tasks, then tunes the shipped
 * small ViT (pretrained by {@link Pretrain} on other synthetic images) with the linear probe, VPT and
 * CVPT on each, and writes the comparison (demo.md, demo.csv, demo.json, demo.png).
 */
public final class Demo {
    public static final String BACKBONE_RESOURCE = "/dev/cvpt/demo/demo-vit.safetensors";
    public static final List<String> TASKS = List.of("number", "angle", "quadrant", "colour");
    public static final List<String> METHODS = List.of("linear", "vpt", "cvpt");

    /** One result. */
    public record Cell(String task, String method, double testTop1, double seconds) {}

    /** Sizes of the demo (defaults: 400 train / 400 test images per task, 30 epochs). */
    public record Settings(int train, int test, int epochs, double lr, int prompts, long seed, int threads) {
        public static Settings defaults(int threads) { return new Settings(400, 400, 30, 3e-2, 10, 0, threads); }
    }

    private Demo() {}

    /** The shipped backbone, copied out of the jar into {@code dir} (once). */
    public static Path shippedBackbone(Path dir) throws IOException {
        Path f = dir.resolve("demo-vit.safetensors");
        if (Files.exists(f)) return f;
        try (InputStream in = Demo.class.getResourceAsStream(BACKBONE_RESOURCE)) {
            if (in == null) throw new UserException("the demo backbone is missing from the build (" + BACKBONE_RESOURCE
                    + "); make it with: ./cvpt pretrain --out src/main/resources" + BACKBONE_RESOURCE);
            byte[] b = in.readAllBytes();
            AtomicFiles.write(f, o -> o.write(b));
        }
        return f;
    }

    public static List<Cell> run(Path out, Path backbone, Settings s, PrintStream log) throws IOException {
        Files.createDirectories(out);
        Path ckpt = backbone != null ? backbone : shippedBackbone(out);
        var loaded = dev.cvpt.io.Checkpoint.load(ckpt);
        int size = dev.cvpt.model.Backbones.configOf(ckpt, loaded.tensors(), loaded.heads()).img();
        List<Cell> cells = new ArrayList<>();
        for (String task : TASKS) {
            Path data = SyntheticTasks.write(out.resolve("data"), task, size, s.seed(), s.train(), 0, s.test(), s.threads());
            for (String method : METHODS) {
                Path run = out.resolve("runs").resolve(task + "-" + method);
                Path metrics = run.resolve("metrics.json");
                if (!Files.exists(metrics)) {
                    log.println("== " + task + " / " + method);
                    Recipe r = new Recipe(s.epochs(), 32, s.lr(), 0.05, Math.max(1, s.epochs() / 10), 0.1, 0.1, s.seed(), Math.max(1, s.epochs() / 3));
                    // one lr for every method (3e-2: the prompts of a 64-wide ViT need large steps in 360 steps)
                    MethodSpec spec = new MethodSpec(method, 3, s.prompts(), true, 0.1);
                    Trainer.run(new Trainer.Options(data, ckpt, run, spec, r, s.threads(), false, false, OptionalInt.empty(),
                            task, false), Files.exists(run.resolve(Trainer.STATE)), log);
                }
                var m = TaskFile.JSON.readTree(Files.readString(metrics));
                cells.add(new Cell(task, method, m.path("test_top1").asDouble(), m.path("train_seconds").asDouble()));
            }
        }
        write(out, cells, s);
        return cells;
    }

    static void write(Path out, List<Cell> cells, Settings s) throws IOException {
        StringBuilder md = new StringBuilder(String.format(Locale.ROOT,
                "# cvpt demo: test top-1 (%%), final epoch, %d train / %d test images per task, %d epochs%n%n| task | linear probe | VPT-deep | CVPT | CVPT − linear |%n|---|---|---|---|---|%n",
                s.train(), s.test(), s.epochs()));
        StringBuilder csv = new StringBuilder("task,method,test_top1,train_seconds\n");
        Map<String, Map<String, Double>> table = new LinkedHashMap<>();
        for (Cell c : cells) {
            table.computeIfAbsent(c.task(), k -> new LinkedHashMap<>()).put(c.method(), c.testTop1());
            csv.append(String.format(Locale.ROOT, "%s,%s,%.4f,%.1f%n", c.task(), c.method(), c.testTop1(), c.seconds()));
        }
        table.forEach((task, m) -> md.append(String.format(Locale.ROOT, "| %s | %.2f | %.2f | %.2f | %+.2f |%n", task,
                m.getOrDefault("linear", Double.NaN), m.getOrDefault("vpt", Double.NaN), m.getOrDefault("cvpt", Double.NaN),
                m.getOrDefault("cvpt", Double.NaN) - m.getOrDefault("linear", Double.NaN))));
        AtomicFiles.write(out.resolve("demo.md"), o -> o.write(md.toString().getBytes(StandardCharsets.UTF_8)));
        AtomicFiles.write(out.resolve("demo.csv"), o -> o.write(csv.toString().getBytes(StandardCharsets.UTF_8)));
        String js = TaskFile.JSON.writeValueAsString(Map.of("settings", s, "results", cells));
        AtomicFiles.write(out.resolve("demo.json"), o -> o.write(js.getBytes(StandardCharsets.UTF_8)));

        System.setProperty("java.awt.headless", "true");
        CategoryChart chart = new CategoryChartBuilder().width(900).height(500).title("cvpt demo: test top-1 per task")
                .xAxisTitle("task").yAxisTitle("top-1 (%)").build();
        List<String> tasks = new ArrayList<>(table.keySet());
        for (String method : METHODS)
            chart.addSeries(method, tasks, tasks.stream().map(t -> table.get(t).getOrDefault(method, 0.0)).toList());
        byte[] png = BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG);
        AtomicFiles.write(out.resolve("demo.png"), o -> o.write(png));
    }
}
