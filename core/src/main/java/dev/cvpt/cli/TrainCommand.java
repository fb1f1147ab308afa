package dev.cvpt.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cvpt.UserException;
import dev.cvpt.data.FgvcTask;
import dev.cvpt.data.VtabTask;
import dev.cvpt.model.MethodSpec;
import dev.cvpt.train.Recipe;
import dev.cvpt.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalInt;
import java.util.concurrent.Callable;

@Command(name = "train", sortOptions = false,
        description = {"Tune a frozen ViT on a dataset (official CVPT recipe by default) and write a per-task file.",
                "RUNDIR gets <name>.safetensors (+ .json), metrics.json, metrics.csv, loss.png, accuracy.png, train.log",
                "and the training state (saved every epoch; a killed run continues with --resume RUNDIR)."})
public final class TrainCommand implements Callable<Integer> {
    @Option(names = "--data", paramLabel = "DIR", description = "VTAB-1k task folder, FGVC folder, or image folders (train/, test/).")
    Path data;
    @Option(names = "--checkpoint", paramLabel = "CKPT", description = "Backbone: .npz (JAX ViT), .safetensors or .pth (timm names).")
    Path checkpoint;
    @Option(names = "--out", paramLabel = "RUNDIR", description = "Output folder of the run.")
    Path out;
    @Option(names = "--resume", paramLabel = "RUNDIR", description = "Continue a run from its last saved epoch (its settings come from RUNDIR/run.json).")
    Path resume;

    @Option(names = "--preset", paramLabel = "TASK", description = "Official lr and prompt count of a VTAB (cifar, dmlab, ...) or FGVC (CUB, ...) task.")
    String preset;
    @Option(names = "--method", defaultValue = "cvpt", description = "cvpt, vpt, linear, full, vfpt, e2vpt, spt, lora, adapter, adaptformer or dyt (default: ${DEFAULT-VALUE}).")
    String method;
    @Option(names = "--insert", defaultValue = "3", description = "CVPT insert position 1-5 (default: ${DEFAULT-VALUE}).")
    int insert;
    @Option(names = "--prompts", description = "Prompt tokens per block (default: the preset's, else 10).")
    Integer prompts;
    @Option(names = "--shallow", description = "One prompt set shared by all blocks instead of one per block.")
    boolean shallow;
    @Option(names = "--epochs", defaultValue = "100") int epochs;
    @Option(names = "--batch", defaultValue = "32") int batch;
    @Option(names = "--lr", description = "Peak learning rate (default: the preset's, else 1e-3).") Double lr;
    @Option(names = "--wd", defaultValue = "0.05", description = "AdamW weight decay (default: ${DEFAULT-VALUE}).") double wd;
    @Option(names = "--warmup", defaultValue = "10", description = "Warmup epochs (default: ${DEFAULT-VALUE}).") int warmup;
    @Option(names = "--drop-path", defaultValue = "0.1") double dropPath;
    @Option(names = "--prompt-dropout", defaultValue = "0.1") double promptDropout;
    @Option(names = "--seed", defaultValue = "42") long seed;
    @Option(names = "--eval-every", description = "Evaluate every N epochs (default: 10 for VTAB, 1 for FGVC/folders).") Integer evalEvery;
    @Option(names = "--threads", defaultValue = "0", description = "Compute and data threads (default: all cores).") int threads;
    @Option(names = "--select-on-val", description = "VTAB: train on train800 and evaluate val200 too (the community protocol).")
    boolean selectOnVal;
    @Option(names = "--skip-bad", description = "Leave out unreadable images and bad list lines (counted) instead of stopping.")
    boolean skipBad;
    @Option(names = "--heads", description = "Attention heads, when the checkpoint does not tell (default: width/64).") Integer heads;
    @Option(names = "--name", description = "Task name (default: the data folder's name).") String name;
    @Option(names = "--no-progress", description = "No progress bar (one line per epoch).") boolean noProgress;
    @Mixin PromptMethodFlags methodFlags;
    @Mixin AdapterMethodFlags adapterFlags;
    @Mixin DebugOption debug;
    @Mixin PrecisionOption precisionOption;

    @Override
    public Integer call() throws IOException {
        Trainer.Options opts;
        if (resume != null) {
            JsonNode run = runJson(resume);
            keepPrecision(run, resume);
            opts = fromRun(resume, run, threads, skipBad, heads, !noProgress && System.console() != null);
        } else {
            precisionOption.apply();
            if (data == null || checkpoint == null || out == null)
                throw new UserException("train needs --data DIR, --checkpoint CKPT and --out RUNDIR (or --resume RUNDIR)");
            double peak = lr != null ? lr : 1e-3;
            int p = prompts != null ? prompts : 10;
            if (preset != null) {
                var v = VtabTask.byId(preset);
                var f = FgvcTask.byId(preset);
                if (v.isEmpty() && f.isEmpty()) throw new UserException("unknown preset '" + preset + "' (a VTAB-1k or FGVC task name)");
                if (lr == null) peak = v.map(VtabTask::lr).orElseGet(() -> f.get().lr());
                if (prompts == null) p = v.map(VtabTask::prompts).orElseGet(() -> f.get().prompts());
            }
            int every = evalEvery != null ? evalEvery : Files.exists(data.resolve("test.txt")) ? 10 : 1;
            MethodSpec spec = adapterFlags.apply(methodFlags.apply(PromptMethodFlags.spec(method, insert, p, !shallow, promptDropout), preset));
            Recipe recipe = adapterFlags.recipe(method, methodFlags.apply(new Recipe(epochs, batch, peak, wd, warmup, dropPath, promptDropout, seed, every), spec));
            opts = new Trainer.Options(data, checkpoint, out, spec, recipe, threadCount(threads), selectOnVal, skipBad,
                    heads == null ? OptionalInt.empty() : OptionalInt.of(heads), name, !noProgress && System.console() != null);
        }
        try {
            Trainer.run(opts, resume != null, System.err);
        } catch (java.nio.file.FileSystemException e) {
            // an output (metrics, plots, task file) could not be written: the state of the last finished epoch is kept
            Path state = opts.runDir().resolve(Trainer.STATE);
            throw new UserException("cannot write " + e.getMessage() + (Files.exists(state)
                    ? "; the last finished epoch is saved in " + state + " (continue with --resume " + opts.runDir() + ")" : ""), e);
        }
        return Main.OK;
    }

    /** A resumed run keeps the precision it was trained with (run.json; absent: fp32); a different --precision is an error. */
    private void keepPrecision(JsonNode run, Path runDir) {
        String was = run.path("precision").asText("fp32");
        dev.cvpt.engine.Precision trained = runPrecision(run, runDir);
        if (precisionOption.given() && precisionOption.apply() != trained)
            throw new UserException("--precision " + precisionOption.precision + ": the run in " + runDir + " was trained with " + was
                    + " (a resumed run keeps its precision)");
        dev.cvpt.engine.Precision.use(trained);
    }

    /** The precision a run was trained with (run.json's "precision"; absent: fp32); a bad value is a one-line user error. */
    static dev.cvpt.engine.Precision runPrecision(JsonNode run, Path runDir) {
        return dev.cvpt.engine.Precision.parse(run.path("precision").asText("fp32"), runDir.resolve("run.json") + ": precision");
    }

    static int threadCount(int t) { return t > 0 ? t : Runtime.getRuntime().availableProcessors(); }

    /** A run folder's run.json, parsed. */
    static JsonNode runJson(Path runDir) throws IOException {
        Path f = runDir.resolve("run.json");
        if (!Files.exists(f)) throw new UserException(runDir + ": not a run folder (no run.json)");
        return new ObjectMapper().readTree(Files.readString(f));
    }

    /** The options of an earlier run, from its run.json ({@link #runJson}). */
    static Trainer.Options fromRun(Path runDir, JsonNode c, int threads, boolean skipBad, Integer heads, boolean progress)
            throws IOException {
        Recipe recipe = new ObjectMapper().treeToValue(c.path("recipe"), Recipe.class);
        MethodSpec spec = new MethodSpec(c.path("method").asText(), c.path("insert").asInt(), c.path("prompts").asInt(),
                c.path("deep").asBoolean(), recipe.promptDropout(), dev.cvpt.train.TaskFile.options(c.path("options")));
        int t = threads > 0 ? threads : c.path("threads").asInt(threadCount(0));
        return new Trainer.Options(Path.of(c.path("data").asText()), Path.of(c.path("checkpoint").asText()), runDir, spec, recipe,
                t, c.path("select_on_val").asBoolean(), skipBad, heads == null ? OptionalInt.empty() : OptionalInt.of(heads),
                c.path("name").asText(), progress);
    }
}
