package dev.cvpt.cli;

import dev.cvpt.UserException;
import dev.cvpt.model.MethodSpec;
import dev.cvpt.train.Grid;
import dev.cvpt.train.Recipe;
import dev.cvpt.train.Trainer;
import dev.cvpt.train.Tune;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.Callable;

@Command(name = "tune", sortOptions = false,
        description = {"The community protocol (VPT/NOAH): every grid point trained on train800 and scored on val200,",
                "the best retrained on train800val200 with each seed, test top-1 mean ± std. Writes tune.md, tune.csv",
                "and tune.json (every trial) in OUT; restartable (finished trials are skipped, a killed one resumes).",
                "Grid defaults and their sources: docs/TUNING.md."})
public final class TuneCommand implements Callable<Integer> {
    @Option(names = "--data", required = true, paramLabel = "DIR", description = "VTAB-1k task folder (or FGVC / image folders with a val split).")
    Path data;
    @Option(names = "--checkpoint", required = true, paramLabel = "CKPT") Path checkpoint;
    @Option(names = "--out", paramLabel = "DIR", description = "Output folder (default: runs/tune-<task>-<method>).") Path out;
    @Option(names = "--method", defaultValue = "cvpt", description = "cvpt, vpt, linear or full (default: ${DEFAULT-VALUE}).") String method;
    @Option(names = "--grid", paramLabel = "lr=A,B,wd=C,D[,prompts=E,F]",
            description = "The grid (default: lr=0.005,0.001,wd=0.01,0.001,0.0001,0; keys not given keep the defaults).") String grid;
    @Option(names = "--seeds", defaultValue = "3", paramLabel = "N|S1,S2,...",
            description = "Final runs: N seeds (the first N of VPT's 42,44,82,100,800) or a list (default: ${DEFAULT-VALUE}).") String seeds;
    @Mixin RecipeOptions recipe;
    @Option(names = "--name", description = "Task name (default: the data folder's name).") String name;
    @Mixin DebugOption debug;
    @Mixin PrecisionOption precisionOption;

    @Override
    public Integer call() throws Exception {
        precisionOption.apply();
        Grid g = grid == null ? Grid.defaults() : Grid.parse(grid);
        List<Long> s = seeds(seeds);
        String task = name != null ? name : data.toAbsolutePath().normalize().getFileName().toString();
        Path o = out != null ? out : Path.of("runs", "tune-" + task + "-" + method);
        var r = Tune.run(recipe.template(data, checkpoint, method, name), g, s, o, System.err);
        System.out.print(Files.readString(o.resolve("tune.md")));
        return r.finals().isEmpty() ? Main.FAILED : Main.OK;
    }

    /** "3" (the first 3 of VPT's seeds) or "1,2,7". */
    static List<Long> seeds(String text) {
        try {
            if (!text.contains(",")) {
                int n = Integer.parseInt(text.trim());
                if (n < 1) throw new UserException("--seeds: at least 1, got " + n);
                if (n <= Grid.VPT_SEEDS.size()) return Grid.VPT_SEEDS.subList(0, n);
                List<Long> l = new java.util.ArrayList<>(Grid.VPT_SEEDS);
                for (long k = 1; l.size() < n; k++) if (!l.contains(k)) l.add(k);
                return l;
            }
            return java.util.Arrays.stream(text.split(",")).map(String::trim).map(Long::parseLong).distinct().toList();
        } catch (NumberFormatException e) {
            throw new UserException("--seeds: expected a count or a comma-separated list of seeds, got '" + text + "'");
        }
    }

    /** The recipe and method flags that tune and suite --tune share with train (same names, same defaults). */
    public static final class RecipeOptions {
        @Option(names = "--insert", defaultValue = "3", description = "CVPT insert position 1-5 (default: ${DEFAULT-VALUE}).") int insert;
        @Option(names = "--prompts", defaultValue = "10", description = "Prompt tokens per block, when the grid has no prompts (default: ${DEFAULT-VALUE}).") int prompts;
        @Option(names = "--shallow") boolean shallow;
        @Option(names = "--epochs", defaultValue = "100") int epochs;
        @Option(names = "--batch", defaultValue = "32") int batch;
        @Option(names = "--warmup", defaultValue = "10") int warmup;
        @Option(names = "--drop-path", defaultValue = "0.1") double dropPath;
        @Option(names = "--prompt-dropout", defaultValue = "0.1") double promptDropout;
        @Option(names = "--eval-every", defaultValue = "10") int evalEvery;
        @Option(names = "--threads", defaultValue = "0", description = "Compute and data threads (default: all cores).") int threads;
        @Option(names = "--skip-bad") boolean skipBad;
        @Option(names = "--heads") Integer heads;
        @Option(names = "--no-progress") boolean noProgress;

        Trainer.Options template(Path data, Path checkpoint, String method, String name) {
            MethodSpec spec;
            Recipe r;
            try {
                spec = new MethodSpec(method, insert, prompts, !shallow, promptDropout);
                // lr, wd and seed are set per run from the grid and the seeds
                r = new Recipe(epochs, batch, 1e-3, 0.05, warmup, dropPath, promptDropout, 0, evalEvery);
            } catch (IllegalArgumentException e) {
                throw new UserException(e.getMessage());
            }
            return new Trainer.Options(data, checkpoint, null, spec, r, TrainCommand.threadCount(threads), true, skipBad,
                    heads == null ? OptionalInt.empty() : OptionalInt.of(heads), name, !noProgress && System.console() != null);
        }
    }
}
