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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalInt;
import java.util.function.Function;

/**
 * Runs the VTAB-1k tasks found under a root, each with its official preset (lr, prompts), and
 * writes the VTAB table: per task, the three group means, and the mean over the tasks. A finished
 * task is not run again and an interrupted one is resumed, so a long suite can be restarted.
 */
public final class Suite {
    /** One task's outcome. */
    public record Row(VtabTask task, double testTop1, double testTop1Best) {}

    private Suite() {}

    /**
     * @param template the run settings; data, out, lr and prompts are replaced per task
     *                 ({@code presetPrompts}: take the task's prompt count, else the template's)
     */
    public static List<Row> run(Path root, Path out, Trainer.Options template, boolean presetLr, boolean presetPrompts,
                                List<String> only, PrintStream log) throws IOException {
        List<Row> rows = new ArrayList<>();
        for (VtabTask t : tasks(root, only, log)) {
            Path runDir = out.resolve(t.id());
            Path metrics = runDir.resolve("metrics.json");
            if (!Files.exists(metrics)) {
                Recipe r = template.recipe();
                // the task lrs are CVPT's (AdamW); the SGD methods publish none, so they keep the recipe's
                Recipe rr = r.withLr(presetLr && r.optim().optimizer().equals("adamw") ? t.lr() : r.lr());
                MethodSpec s = template.spec();
                MethodSpec ss = new MethodSpec(s.method(), s.insert(), presetPrompts ? t.prompts() : s.prompts(), s.deep(), s.promptDropout(), s.options());
                var pp = PromptPresets.of(s.method(), t.id());   // VFPT / E2VPT publish their own per-task settings
                if (presetPrompts && pp.isPresent()) {
                    ss = new MethodSpec(s.method(), s.insert(), pp.get().prompts(), s.deep(), s.promptDropout(), s.options());
                    if (pp.get().fraction() != null) ss = ss.withOption("fourier-fraction", pp.get().fraction());
                    if (pp.get().kvPrompts() != null) ss = ss.withOption("kv-prompts", pp.get().kvPrompts());
                }
                log.println("== " + t.id() + " (lr " + rr.lr() + ", " + ss.prompts() + " prompts)");
                Trainer.run(new Trainer.Options(root.resolve(t.id()), template.checkpoint(), runDir, ss, rr, template.threads(),
                        template.selectOnVal(), template.skipBad(), template.heads(), t.id(), template.progress()),
                        Files.exists(runDir.resolve(Trainer.STATE)), log);
            }
            JsonNode m = TaskFile.JSON.readTree(Files.readString(metrics));
            rows.add(new Row(t, m.path("test_top1").asDouble(Double.NaN), m.path("test_top1_best").asDouble(Double.NaN)));
            write(out, rows, template.spec().method());
        }
        return rows;
    }

    /** The VTAB-1k tasks found under {@code root} (only those named, when {@code only} is not empty). */
    static List<VtabTask> tasks(Path root, List<String> only, PrintStream log) {
        List<VtabTask> found = new ArrayList<>();
        for (VtabTask t : VtabTask.values())
            if (Files.exists(root.resolve(t.id()).resolve("test.txt")) && (only.isEmpty() || only.contains(t.id()))) found.add(t);
        if (found.isEmpty())
            throw new UserException(root + ": no VTAB-1k task folders (e.g. " + root.resolve("cifar") + "/test.txt)");
        log.println("suite: " + found.size() + " tasks: " + found.stream().map(VtabTask::id).toList());
        return found;
    }

    /** suite.md, suite.csv and suite.json. */
    static void write(Path out, List<Row> rows, String method) throws IOException {
        Map<String, Object> json = new LinkedHashMap<>();
        StringBuilder md = new StringBuilder("# VTAB-1k, " + method + "\n\n| task | group | test top-1 (final epoch) | test top-1 (best, selected on test) |\n|---|---|---|---|\n");
        StringBuilder csv = new StringBuilder("task,group,test_top1,test_top1_best\n");
        List<Map<String, Object>> tasks = new ArrayList<>();
        for (Row r : rows) {
            md.append(String.format(Locale.ROOT, "| %s | %s | %.2f | %.2f |%n", r.task().id(), r.task().group().name().toLowerCase(Locale.ROOT), r.testTop1(), r.testTop1Best()));
            csv.append(String.format(Locale.ROOT, "%s,%s,%.4f,%.4f%n", r.task().id(), r.task().group().name().toLowerCase(Locale.ROOT), r.testTop1(), r.testTop1Best()));
            tasks.add(Map.of("task", r.task().id(), "group", r.task().group().name().toLowerCase(Locale.ROOT), "test_top1", r.testTop1(), "test_top1_best", r.testTop1Best()));
        }
        json.put("method", method);
        json.put("tasks", tasks);
        md.append("\n| summary | test top-1 (final epoch) | test top-1 (best) |\n|---|---|---|\n");
        Map<String, Object> means = new LinkedHashMap<>();
        List<Double> groupMeans = new ArrayList<>(), groupMeansBest = new ArrayList<>();
        for (VtabTask.Group g : VtabTask.Group.values()) {
            List<Row> in = rows.stream().filter(r -> r.task().group() == g).toList();
            if (in.isEmpty()) continue;
            double a = mean(in, Row::testTop1), b = mean(in, Row::testTop1Best);
            groupMeans.add(a);
            groupMeansBest.add(b);
            String name = g.name().toLowerCase(Locale.ROOT) + " mean (" + in.size() + " of " + VtabTask.inGroup(g).size() + " tasks)";
            md.append(String.format(Locale.ROOT, "| %s | %.2f | %.2f |%n", name, a, b));
            means.put(g.name().toLowerCase(Locale.ROOT), Map.of("tasks", in.size(), "test_top1", a, "test_top1_best", b));
        }
        double all = mean(rows, Row::testTop1), allBest = mean(rows, Row::testTop1Best);
        md.append(String.format(Locale.ROOT, "| mean over the %d tasks | %.2f | %.2f |%n", rows.size(), all, allBest));
        double gm = groupMeans.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
        double gmb = groupMeansBest.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
        md.append(String.format(Locale.ROOT, "| mean of the group means | %.2f | %.2f |%n", gm, gmb));
        md.append("\n\"final epoch\" is the community protocol's figure; \"best\" is the maximum over the test evaluations, as the official CVPT code reports (model selection on the test set).\n");
        means.put("tasks_mean", Map.of("tasks", rows.size(), "test_top1", all, "test_top1_best", allBest));
        means.put("group_means_mean", Map.of("test_top1", gm, "test_top1_best", gmb));
        json.put("means", means);
        AtomicFiles.write(out.resolve("suite.md"), o -> o.write(md.toString().getBytes(StandardCharsets.UTF_8)));
        AtomicFiles.write(out.resolve("suite.csv"), o -> o.write(csv.toString().getBytes(StandardCharsets.UTF_8)));
        String js = TaskFile.JSON.writeValueAsString(json);
        AtomicFiles.write(out.resolve("suite.json"), o -> o.write(js.getBytes(StandardCharsets.UTF_8)));
    }

    private static double mean(List<Row> rows, Function<Row, Double> f) {
        return rows.stream().mapToDouble(f::apply).average().orElse(Double.NaN);
    }

    /** A suite's settings for the command line: what train's options would give, without data/out. */
    public static Trainer.Options template(Path checkpoint, MethodSpec spec, Recipe recipe, int threads, boolean selectOnVal,
                                           boolean skipBad, OptionalInt heads, boolean progress) {
        return new Trainer.Options(null, checkpoint, null, spec, recipe, threads, selectOnVal, skipBad, heads, null, progress);
    }
}
