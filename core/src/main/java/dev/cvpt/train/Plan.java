package dev.cvpt.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cvpt.UserException;
import dev.cvpt.model.MethodSpec;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;

/**
 * A sweep plan: one JSON object per line, one training run each. Fields:
 * <pre>
 * {"task": "cifar", "data": "vtab-1k/cifar", "checkpoint": "ViT-B_16.npz", "method": "cvpt",
 *  "options": {"insert": 3, "prompts": 10, "deep": true},
 *  "recipe": {"epochs": 100, "lr": 1e-3, "weightDecay": 0.05, ...}, "seed": 42,
 *  "out": "runs/sweep/cifar-lr1e-3-s42", "select_on_val": false, "threads": 1}
 * </pre>
 * data, checkpoint and out are required; relative paths are taken from the plan file's folder.
 * recipe fields not given keep the official recipe's values ({@link Recipe#official()}), options
 * the train command's defaults; seed overrides recipe.seed. A run is run, resumed or skipped as
 * {@link Runs} says, so a plan can be run again (or its share re-run by another worker) safely.
 */
public final class Plan {
    /**
     * Line j (0-based, counting only run lines) of a plan: {@code json} as written, {@code base} the
     * folder its relative paths are taken from, {@code where} file:line for messages.
     */
    public record Line(int index, String where, String json, Path base, Trainer.Options options) {}

    private static final Set<String> FIELDS = Set.of("task", "data", "checkpoint", "method", "options", "recipe", "seed", "out",
            "select_on_val", "threads");
    private static final Set<String> OPTION_FIELDS = Set.of("insert", "prompts", "deep", "prompt_dropout");

    private Plan() {}

    /** The runs of a plan file (blank lines and lines starting with # are skipped and not counted). */
    public static List<Line> read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) throw new UserException("no such plan file: " + file);
        List<String> lines = Files.readAllLines(file);
        Path base = file.toAbsolutePath().normalize().getParent();
        List<Line> out = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String l = lines.get(i).strip();
            if (l.isEmpty() || l.startsWith("#")) continue;
            String where = file + ":" + (i + 1);
            out.add(new Line(out.size(), where, l, base, parse(l, base, where)));
        }
        if (out.isEmpty()) throw new UserException(file + ": the plan has no runs (one JSON object per line)");
        return out;
    }

    /** One plan line; {@code where} names it in error messages (file:line). */
    public static Trainer.Options parse(String json, Path base, String where) {
        JsonNode n;
        try {
            n = TaskFile.JSON.readTree(json);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new UserException(where + ": not a JSON object: " + e.getOriginalMessage());
        }
        if (!(n instanceof ObjectNode o)) throw new UserException(where + ": expected a JSON object, got " + n.getNodeType());
        for (Iterator<String> it = o.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!FIELDS.contains(f)) throw new UserException(where + ": unknown field '" + f + "' (expected " + new java.util.TreeSet<>(FIELDS) + ")");
        }
        try {
            Path data = path(o, "data", base, where), ckpt = path(o, "checkpoint", base, where), out = path(o, "out", base, where);
            JsonNode opt = o.path("options");
            for (Iterator<String> it = opt.fieldNames(); it.hasNext(); ) {
                String f = it.next();
                if (!OPTION_FIELDS.contains(f)) throw new UserException(where + ": unknown option '" + f + "' (expected " + new java.util.TreeSet<>(OPTION_FIELDS) + ")");
            }
            ObjectNode recipe = TaskFile.JSON.valueToTree(Recipe.official());
            if (o.has("recipe")) {
                if (!o.get("recipe").isObject()) throw new UserException(where + ": recipe must be an object");
                for (Iterator<Map.Entry<String, JsonNode>> it = o.get("recipe").fields(); it.hasNext(); ) {
                    var e = it.next();
                    if (!recipe.has(e.getKey())) throw new UserException(where + ": unknown recipe field '" + e.getKey() + "' (expected "
                            + names(recipe.fieldNames()) + ")");
                    recipe.set(e.getKey(), e.getValue());
                }
            }
            if (o.has("seed")) recipe.set("seed", o.get("seed"));
            Recipe r = TaskFile.JSON.treeToValue(recipe, Recipe.class);
            MethodSpec spec = new MethodSpec(o.path("method").asText("cvpt"), opt.path("insert").asInt(3), opt.path("prompts").asInt(10),
                    opt.path("deep").asBoolean(true), opt.path("prompt_dropout").asDouble(r.promptDropout()));
            int threads = o.path("threads").asInt(1);
            if (threads < 1) throw new UserException(where + ": threads must be at least 1");
            String task = o.has("task") ? o.get("task").asText() : null;
            return new Trainer.Options(data, ckpt, out, spec, r, threads, o.path("select_on_val").asBoolean(false), false,
                    OptionalInt.empty(), task, false);
        } catch (IllegalArgumentException | IOException e) {
            String m = e.getCause() instanceof IllegalArgumentException c ? c.getMessage() : e.getMessage();
            throw new UserException(where + ": " + (m == null ? e.toString() : m.lines().findFirst().orElse(m)));
        }
    }

    private static List<String> names(Iterator<String> it) {
        List<String> l = new ArrayList<>();
        it.forEachRemaining(l::add);
        return l;
    }

    private static Path path(ObjectNode o, String field, Path base, String where) {
        JsonNode v = o.get(field);
        if (v == null || !v.isTextual() || v.asText().isBlank()) throw new UserException(where + ": missing \"" + field + "\" (a path)");
        return base.resolve(v.asText()).normalize();
    }

    /** Whether worker {@code index} of {@code workers} runs plan line j: j mod workers == index. */
    public static boolean mine(int j, int index, int workers) { return j % workers == index; }

    /**
     * Runs this worker's share of a plan (every line when workers is 1), one after the other; each is
     * run, resumed or skipped ({@link Runs}). Returns the metrics of the lines run, in plan order.
     */
    public static List<JsonNode> sweep(List<Line> plan, int index, int workers, OptionalInt threads, PrintStream log) throws IOException {
        if (workers < 1) throw new UserException("--workers must be at least 1, got " + workers);
        if (index < 0 || index >= workers) throw new UserException("--index must be in 0.." + (workers - 1) + ", got " + index);
        List<JsonNode> out = new ArrayList<>();
        for (Line l : plan) {
            if (!mine(l.index(), index, workers)) continue;
            out.add(run(l, threads, log));
        }
        return out;
    }

    /** One plan line: run, resumed or skipped. */
    public static JsonNode run(Line l, OptionalInt threads, PrintStream log) throws IOException {
        Trainer.Options o = l.options();
        if (threads.isPresent())
            o = new Trainer.Options(o.data(), o.checkpoint(), o.runDir(), o.spec(), o.recipe(), threads.getAsInt(), o.selectOnVal(),
                    o.skipBad(), o.heads(), o.name(), o.progress());
        log.println("== plan run " + l.index() + " (" + l.where() + "): " + o.runDir()
                + (Runs.done(o.runDir()) ? " (done)" : Files.exists(o.runDir().resolve(Trainer.STATE)) ? " (resuming)" : ""));
        return Runs.runOrResume(o, log);
    }
}
