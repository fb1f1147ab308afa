package dev.cvpt.train;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cvpt.UserException;
import dev.cvpt.data.VtabTask;
import dev.cvpt.io.AtomicFiles;
import dev.cvpt.model.MethodSpec;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The community tuning protocol (VPT's tune_vtab.py; docs/TUNING.md): every grid point trained on
 * train800 and scored on val200 (final-epoch val top-1), the best point retrained on train800val200
 * once per seed, and the test top-1 of those runs reported as mean ± std. Every trial and final run
 * has its own folder under {@code out/}; a finished one is skipped and an interrupted one resumed
 * ({@link Runs}), so a killed tune continues where it stopped and ends with the same table.
 *
 * <p>Ties on val200: the lowest lr (VPT's rule, "the smallest lr to break tie for stability"), then
 * the lowest weight decay, then the fewest prompts.
 *
 * <p>Layouts: VTAB-1k as above. FGVC folders with val.json and image folders with val/: the trials
 * train on train and score val; the final runs train on train as well (there is no merged
 * train+val split) and report test.
 */
public final class Tune {
    public static final String TIE_RULE = "highest final-epoch val top-1; ties: lowest lr, then lowest wd, then fewest prompts";

    /** One trial on the validation split. */
    public record Trial(Grid.Point point, double valTop1, String dir) {}

    /** One final run of the chosen point. */
    public record Final(long seed, double testTop1, double testTop1Best, String dir) {}

    /** The outcome. */
    public record Result(List<Trial> trials, Grid.Point chosen, List<Final> finals, double testMean, double testStd) {}

    private Tune() {}

    /**
     * @param template data, checkpoint, method, recipe and run settings; lr, wd, seed (and prompts when the
     *                 grid has them) are replaced per run, runDir is ignored
     */
    public static Result run(Trainer.Options template, Grid grid, List<Long> seeds, Path out, PrintStream log) throws IOException {
        if (seeds.isEmpty()) throw new UserException("--seeds: at least one seed");
        Path data = template.data();
        boolean vtab = Files.exists(data.resolve("test.txt"));
        if (vtab ? !Files.exists(data.resolve("val200.txt")) || !Files.exists(data.resolve("train800.txt"))
                : !Files.exists(data.resolve("val.json")) && !Files.isDirectory(data.resolve("val")))
            throw new UserException(data + ": tune needs a validation split: VTAB-1k train800.txt + val200.txt, "
                    + "FGVC val.json, or an image folder val/");
        Files.createDirectories(out);
        String name = template.name() != null ? template.name() : data.toAbsolutePath().normalize().getFileName().toString();

        List<Trial> trials = new ArrayList<>();
        List<Grid.Point> points = grid.points();
        for (int i = 0; i < points.size(); i++) {
            Grid.Point p = points.get(i);
            Path dir = out.resolve("trials").resolve(p.folder());
            if (!Runs.done(dir)) log.println("== trial " + (i + 1) + "/" + points.size() + ": " + p.folder() + " (train on "
                    + (vtab ? "train800, score val200)" : "train, score val)"));
            JsonNode m = Runs.runOrResume(options(template, dir, name, p, seeds.get(0), true), log);
            double val = m.path("val_top1").asDouble(Double.NaN);
            if (Double.isNaN(val)) throw new IllegalStateException(dir + "/metrics.json has no val_top1");
            trials.add(new Trial(p, val, out.relativize(dir).toString()));
            write(out, name, template.spec().method(), grid, seeds, trials, null, List.of());
        }
        Grid.Point best = choose(trials);
        log.println(String.format(Locale.ROOT, "chosen on val: %s (val top-1 %.2f%%)", best.folder(),
                trials.stream().filter(t -> t.point().equals(best)).findFirst().orElseThrow().valTop1()));

        List<Final> finals = new ArrayList<>();
        for (long seed : seeds) {
            Path dir = out.resolve("final").resolve("seed" + seed);
            if (!Runs.done(dir)) log.println("== final run, seed " + seed + " (train on " + (vtab ? "train800val200" : "train") + ", test)");
            JsonNode m = Runs.runOrResume(options(template, dir, name, best, seed, false), log);
            finals.add(new Final(seed, m.path("test_top1").asDouble(Double.NaN), m.path("test_top1_best").asDouble(Double.NaN),
                    out.relativize(dir).toString()));
            write(out, name, template.spec().method(), grid, seeds, trials, best, finals);
        }
        double[] acc = finals.stream().mapToDouble(Final::testTop1).toArray();
        return new Result(trials, best, finals, mean(acc), std(acc));
    }

    static Trainer.Options options(Trainer.Options t, Path dir, String name, Grid.Point p, long seed, boolean onVal) {
        Recipe r = t.recipe();
        Recipe rr = new Recipe(r.epochs(), r.batch(), p.lr(), p.wd(), r.warmupEpochs(), r.dropPath(), r.promptDropout(), seed, r.evalEvery());
        MethodSpec s = t.spec();
        MethodSpec ss = p.prompts() == null ? s : new MethodSpec(s.method(), s.insert(), p.prompts(), s.deep(), s.promptDropout());
        return new Trainer.Options(t.data(), t.checkpoint(), dir, ss, rr, t.threads(), onVal, t.skipBad(), t.heads(), name, t.progress());
    }

    /** The best trial by val top-1; ties as {@link #TIE_RULE} says. */
    static Grid.Point choose(List<Trial> trials) {
        return trials.stream().min(Comparator.comparingDouble((Trial t) -> -t.valTop1())
                .thenComparingDouble(t -> t.point().lr())
                .thenComparingDouble(t -> t.point().wd())
                .thenComparingInt(t -> t.point().prompts() == null ? 0 : t.point().prompts())).orElseThrow().point();
    }

    static double mean(double[] a) { return java.util.Arrays.stream(a).average().orElse(Double.NaN); }

    /** The sample standard deviation (n − 1); 0 for one value. */
    static double std(double[] a) {
        if (a.length < 2) return a.length == 1 ? 0 : Double.NaN;
        double m = mean(a), s = 0;
        for (double v : a) s += (v - m) * (v - m);
        return Math.sqrt(s / (a.length - 1));
    }

    /** tune.md, tune.csv and tune.json: every trial and final run so far, and the summary once all finals ran. */
    static void write(Path out, String name, String method, Grid grid, List<Long> seeds, List<Trial> trials, Grid.Point chosen,
                      List<Final> finals) throws IOException {
        boolean complete = chosen != null && finals.size() == seeds.size();
        double[] acc = finals.stream().mapToDouble(Final::testTop1).toArray();
        StringBuilder md = new StringBuilder(String.format(Locale.ROOT, "# tune: %s, %s%n%ngrid %s; seeds %s; selection: %s%n%n"
                + "| run | lr | wd | prompts | seed | val top-1 | test top-1 (final epoch) |%n|---|---|---|---|---|---|---|%n",
                name, method, grid, seeds, TIE_RULE));
        StringBuilder csv = new StringBuilder("run,lr,wd,prompts,seed,val_top1,test_top1,dir\n");
        List<Map<String, Object>> rows = new ArrayList<>();
        for (Trial t : trials) {
            Grid.Point p = t.point();
            boolean win = p.equals(chosen);
            md.append(String.format(Locale.ROOT, "| trial%s | %s | %s | %s | %d | %.2f | |%n", win ? " (chosen)" : "", Grid.Point.num(p.lr()),
                    Grid.Point.num(p.wd()), p.prompts() == null ? "" : p.prompts(), seeds.get(0), t.valTop1()));
            csv.append(String.format(Locale.ROOT, "trial,%s,%s,%s,%d,%.4f,,%s%n", Grid.Point.num(p.lr()), Grid.Point.num(p.wd()),
                    p.prompts() == null ? "" : p.prompts(), seeds.get(0), t.valTop1(), t.dir()));
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("run", "trial");
            r.put("lr", p.lr());
            r.put("wd", p.wd());
            if (p.prompts() != null) r.put("prompts", p.prompts());
            r.put("seed", seeds.get(0));
            r.put("val_top1", t.valTop1());
            r.put("chosen", win);
            r.put("dir", t.dir());
            rows.add(r);
        }
        for (Final f : finals) {
            md.append(String.format(Locale.ROOT, "| final | %s | %s | %s | %d | | %.2f |%n", Grid.Point.num(chosen.lr()), Grid.Point.num(chosen.wd()),
                    chosen.prompts() == null ? "" : chosen.prompts(), f.seed(), f.testTop1()));
            csv.append(String.format(Locale.ROOT, "final,%s,%s,%s,%d,,%.4f,%s%n", Grid.Point.num(chosen.lr()), Grid.Point.num(chosen.wd()),
                    chosen.prompts() == null ? "" : chosen.prompts(), f.seed(), f.testTop1(), f.dir()));
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("run", "final");
            r.put("lr", chosen.lr());
            r.put("wd", chosen.wd());
            if (chosen.prompts() != null) r.put("prompts", chosen.prompts());
            r.put("seed", f.seed());
            r.put("test_top1", f.testTop1());
            r.put("test_top1_best", f.testTop1Best());
            r.put("dir", f.dir());
            rows.add(r);
        }
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("task", name);
        json.put("method", method);
        json.put("grid", grid.toString());
        json.put("seeds", seeds);
        json.put("selection", TIE_RULE);
        json.put("complete", complete);
        if (chosen != null) {
            Map<String, Object> c = new LinkedHashMap<>();
            c.put("lr", chosen.lr());
            c.put("wd", chosen.wd());
            if (chosen.prompts() != null) c.put("prompts", chosen.prompts());
            json.put("chosen", c);
        }
        if (complete) {
            md.append(String.format(Locale.ROOT, "%ntest top-1: %.2f ± %.2f (mean ± sample std over %d seeds, final epoch; chosen lr %s, wd %s%s on val)%n",
                    mean(acc), std(acc), acc.length, Grid.Point.num(chosen.lr()), Grid.Point.num(chosen.wd()),
                    chosen.prompts() == null ? "" : ", " + chosen.prompts() + " prompts"));
            json.put("test_top1_mean", mean(acc));
            json.put("test_top1_std", std(acc));
            json.put("test_top1_per_seed", java.util.Arrays.stream(acc).boxed().toList());
            json.put("std", "sample standard deviation (n - 1)");
        }
        json.put("runs", rows);
        AtomicFiles.write(out.resolve("tune.md"), o -> o.write(md.toString().getBytes(StandardCharsets.UTF_8)));
        AtomicFiles.write(out.resolve("tune.csv"), o -> o.write(csv.toString().getBytes(StandardCharsets.UTF_8)));
        String js = TaskFile.JSON.writeValueAsString(json);
        AtomicFiles.write(out.resolve("tune.json"), o -> o.write(js.getBytes(StandardCharsets.UTF_8)));
    }

    /**
     * {@code suite --tune}: the protocol on every VTAB-1k task found under {@code root}, into
     * {@code out/<task>/}, and the VTAB table of the tuned means (suite.md, .csv, .json).
     *
     * @param presetPrompts take each task's official prompt count (when the grid does not vary it)
     */
    public static List<Suite.Row> suite(Path root, Path out, Trainer.Options template, Grid grid, List<Long> seeds,
                                        boolean presetPrompts, List<String> only, PrintStream log) throws IOException {
        List<Suite.Row> rows = new ArrayList<>();
        for (VtabTask t : Suite.tasks(root, only, log)) {
            MethodSpec s = template.spec();
            MethodSpec ss = new MethodSpec(s.method(), s.insert(), presetPrompts ? t.prompts() : s.prompts(), s.deep(), s.promptDropout());
            log.println("== " + t.id() + " (tune: grid " + grid + ", " + seeds.size() + " seeds)");
            Trainer.Options o = new Trainer.Options(root.resolve(t.id()), template.checkpoint(), null, ss, template.recipe(),
                    template.threads(), true, template.skipBad(), template.heads(), t.id(), template.progress());
            Result r = run(o, grid, seeds, out.resolve(t.id()), log);
            rows.add(new Suite.Row(t, r.testMean(), mean(r.finals().stream().mapToDouble(Final::testTop1Best).toArray())));
            Suite.write(out, rows, s.method() + ", tuned on val200 (grid " + grid + "), mean of " + seeds.size() + " seeds");
        }
        return rows;
    }
}
