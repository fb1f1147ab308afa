package dev.cvpt.demo;

import dev.cvpt.UserException;
import dev.cvpt.io.AtomicFiles;
import dev.cvpt.model.MethodSpec;
import dev.cvpt.synth.SyntheticTasks;
import dev.cvpt.train.Recipe;
import dev.cvpt.train.TaskFile;
import dev.cvpt.train.Grid;
import dev.cvpt.train.Trainer;
import dev.cvpt.train.Tune;
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
 * CVPT on each, each method at the lr its own val split picks ({@link Tune}), and writes the
 * comparison (demo.md, demo.csv, demo.json, demo.png).
 */
public final class Demo {
    public static final String BACKBONE_RESOURCE = "/dev/cvpt/demo/demo-vit.safetensors";
    public static final List<String> TASKS = List.of("number", "angle", "quadrant", "colour");
    public static final List<String> METHODS = List.of("linear", "vpt", "cvpt");

    /** One result: the test top-1 of the method at the lr its own val split chose. */
    public record Cell(String task, String method, double testTop1, double seconds, double lr, double valTop1) {}

    /**
     * Sizes of the demo (defaults: 320 train + 80 val / 400 test images per task, 30 epochs, lr chosen
     * per task and method on val from 1e-2, 3e-2, 1e-1; the chosen lr is retrained on train+val).
     */
    public record Settings(int train, int val, int test, int epochs, List<Double> lrs, int prompts, long seed, int threads) {
        public static final List<Double> LRS = List.of(1e-2, 3e-2, 1e-1);

        public static Settings defaults(int threads) { return new Settings(320, 80, 400, 30, LRS, 10, 0, threads); }
    }

    private Demo() {}

    /** The shipped backbone, copied out of the jar into {@code dir} (once). */
    public static Path shippedBackbone(Path dir) throws IOException {
        Path f = dir.resolve("demo-vit.safetensors");
        if (Files.exists(f)) return f;
        try (InputStream in = Demo.class.getResourceAsStream(BACKBONE_RESOURCE)) {
            if (in == null) throw new UserException("the demo backbone is missing from the build (" + BACKBONE_RESOURCE
                    + "); make it with: ./cvpt pretrain --out core/src/main/resources" + BACKBONE_RESOURCE);
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
        if (s.val() < 1) throw new UserException("the demo chooses each method's lr on a val split: --val must be at least 1");
        Grid grid = new Grid(s.lrs(), List.of(0.05), null);
        for (String task : TASKS) {
            Path data = SyntheticTasks.write(out.resolve("data"), task, size, s.seed(), s.train(), s.val(), s.test(), s.threads());
            for (String method : METHODS) {
                Path run = out.resolve("runs").resolve(task + "-" + method);
                log.println("== " + task + " / " + method);
                Recipe r = new Recipe(s.epochs(), 32, s.lrs().get(0), 0.05, Math.max(1, s.epochs() / 10), 0.1, 0.1, s.seed(), Math.max(1, s.epochs() / 3));
                // each method at the lr its own val split picks (the tuning protocol of `cvpt tune`, one seed)
                MethodSpec spec = new MethodSpec(method, 3, s.prompts(), true, 0.1);
                Tune.Result t = Tune.run(new Trainer.Options(data, ckpt, null, spec, r, s.threads(), true, false, OptionalInt.empty(),
                        task, false), grid, List.of(s.seed()), run, log);
                Tune.Final f = t.finals().get(0);
                double val = t.trials().stream().filter(x -> x.point().equals(t.chosen())).findFirst().orElseThrow().valTop1();
                var m = TaskFile.JSON.readTree(Files.readString(run.resolve(f.dir()).resolve("metrics.json")));
                cells.add(new Cell(task, method, f.testTop1(), m.path("train_seconds").asDouble(), t.chosen().lr(), val));
            }
        }
        write(out, cells, s);
        return cells;
    }

    static void write(Path out, List<Cell> cells, Settings s) throws IOException {
        StringBuilder md = new StringBuilder(String.format(Locale.ROOT,
                "# cvpt demo: test top-1 (%%), final epoch, %d train + %d val / %d test images per task, %d epochs%n%n"
                        + "Each method runs at the lr that its own val split picks from %s (trained on train, scored on val; "
                        + "the chosen lr retrained on train+val and tested), weight decay 0.05.%n%n"
                        + "| task | linear probe | VPT-deep | CVPT | CVPT − linear | lr chosen on val (linear / VPT / CVPT) |%n|---|---|---|---|---|---|%n",
                s.train(), s.val(), s.test(), s.epochs(), s.lrs().stream().map(Grid.Point::num).toList()));
        StringBuilder csv = new StringBuilder("task,method,test_top1,train_seconds,lr,val_top1\n");
        Map<String, Map<String, Cell>> table = new LinkedHashMap<>();
        for (Cell c : cells) {
            table.computeIfAbsent(c.task(), k -> new LinkedHashMap<>()).put(c.method(), c);
            csv.append(String.format(Locale.ROOT, "%s,%s,%.4f,%.1f,%s,%.4f%n", c.task(), c.method(), c.testTop1(), c.seconds(),
                    Grid.Point.num(c.lr()), c.valTop1()));
        }
        table.forEach((task, m) -> {
            double lin = top1(m.get("linear")), vpt = top1(m.get("vpt")), cvpt = top1(m.get("cvpt"));
            md.append(String.format(Locale.ROOT, "| %s | %.2f | %.2f | %.2f | %+.2f | %s / %s / %s |%n", task, lin, vpt, cvpt, cvpt - lin,
                    lr(m.get("linear")), lr(m.get("vpt")), lr(m.get("cvpt"))));
        });
        AtomicFiles.write(out.resolve("demo.md"), o -> o.write(md.toString().getBytes(StandardCharsets.UTF_8)));
        AtomicFiles.write(out.resolve("demo.csv"), o -> o.write(csv.toString().getBytes(StandardCharsets.UTF_8)));
        String js = TaskFile.JSON.writeValueAsString(Map.of("settings", s, "results", cells));
        AtomicFiles.write(out.resolve("demo.json"), o -> o.write(js.getBytes(StandardCharsets.UTF_8)));

        System.setProperty("java.awt.headless", "true");
        CategoryChart chart = new CategoryChartBuilder().width(900).height(500).title("cvpt demo: test top-1 per task")
                .xAxisTitle("task").yAxisTitle("top-1 (%)").build();
        List<String> tasks = new ArrayList<>(table.keySet());
        for (String method : METHODS)
            chart.addSeries(method, tasks, tasks.stream().map(t -> table.get(t).containsKey(method) ? table.get(t).get(method).testTop1() : 0.0).toList());
        byte[] png = BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG);
        AtomicFiles.write(out.resolve("demo.png"), o -> o.write(png));
    }

    private static double top1(Cell c) { return c == null ? Double.NaN : c.testTop1(); }

    private static String lr(Cell c) { return c == null ? "-" : Grid.Point.num(c.lr()); }
}
