package dev.cvpt.cli;

import dev.cvpt.model.MethodSpec;
import dev.cvpt.train.Recipe;
import dev.cvpt.train.Suite;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.Callable;

@Command(name = "suite", sortOptions = false,
        description = {"Run the VTAB-1k tasks found under a root with their official presets and write the VTAB table",
                "(per task, group means, mean over tasks) as suite.md, suite.csv and suite.json. Restartable."})
public final class SuiteCommand implements Callable<Integer> {
    @Option(names = "--data", required = true, paramLabel = "VTAB_ROOT") Path data;
    @Option(names = "--checkpoint", required = true, paramLabel = "CKPT") Path checkpoint;
    @Option(names = "--out", defaultValue = "runs/suite", paramLabel = "DIR", description = "Default: ${DEFAULT-VALUE}.") Path out;
    @Option(names = "--tasks", split = ",", description = "Only these tasks (comma-separated).") List<String> tasks;
    @Option(names = "--method", defaultValue = "cvpt") String method;
    @Option(names = "--insert", defaultValue = "3") int insert;
    @Option(names = "--prompts", description = "Override the presets' prompt counts.") Integer prompts;
    @Option(names = "--lr", description = "Override the presets' learning rates.") Double lr;
    @Option(names = "--shallow") boolean shallow;
    @Option(names = "--epochs", defaultValue = "100") int epochs;
    @Option(names = "--batch", defaultValue = "32") int batch;
    @Option(names = "--wd", defaultValue = "0.05") double wd;
    @Option(names = "--warmup", defaultValue = "10") int warmup;
    @Option(names = "--seed", defaultValue = "42") long seed;
    @Option(names = "--eval-every", defaultValue = "10") int evalEvery;
    @Option(names = "--threads", defaultValue = "0") int threads;
    @Option(names = "--select-on-val") boolean selectOnVal;
    @Option(names = "--skip-bad") boolean skipBad;
    @Option(names = "--heads") Integer heads;
    @Option(names = "--no-progress") boolean noProgress;
    @Mixin PromptMethodFlags methodFlags;
    @Mixin AdapterMethodFlags adapterFlags;
    @Option(names = "--tune", description = "Per task, the tuning protocol of `cvpt tune` (grid on train800/val200, the best retrained per seed) instead of the presets.")
    boolean tune;
    @Option(names = "--grid", paramLabel = "lr=A,B,wd=C,D[,prompts=E,F]", description = "With --tune: the grid (default: docs/TUNING.md).") String grid;
    @Option(names = "--seeds", defaultValue = "3", paramLabel = "N|S1,S2,...", description = "With --tune: the seeds of the final runs (default: ${DEFAULT-VALUE}).") String seeds;
    @Mixin DebugOption debug;
    @Mixin PrecisionOption precisionOption;

    @Override
    public Integer call() throws Exception {
        precisionOption.apply();
        int t = TrainCommand.threadCount(threads);
        MethodSpec spec = adapterFlags.apply(methodFlags.apply(PromptMethodFlags.spec(method, insert, prompts != null ? prompts : 10, !shallow, 0.1), null));
        Recipe recipe = adapterFlags.recipe(method, methodFlags.apply(new Recipe(epochs, batch, lr != null ? lr : 1e-3, wd, warmup, 0.1, 0.1, seed, evalEvery), spec));
        Files.createDirectories(out);
        if (tune) {
            var rows = dev.cvpt.train.Tune.suite(data, out, Suite.template(checkpoint, spec, recipe, t, true, skipBad,
                    heads == null ? OptionalInt.empty() : OptionalInt.of(heads), !noProgress && System.console() != null),
                    grid == null ? dev.cvpt.train.Grid.defaults() : dev.cvpt.train.Grid.parse(grid), TuneCommand.seeds(seeds),
                    prompts == null, tasks == null ? List.of() : tasks, System.err);
            System.out.print(Files.readString(out.resolve("suite.md")));
            return rows.isEmpty() ? Main.FAILED : Main.OK;
        }
        var rows = Suite.run(data, out, Suite.template(checkpoint, spec, recipe, t, selectOnVal, skipBad,
                heads == null ? OptionalInt.empty() : OptionalInt.of(heads), !noProgress && System.console() != null),
                lr == null && !AdapterMethodFlags.handles(method), prompts == null, tasks == null ? List.of() : tasks, System.err);
        System.out.print(Files.readString(out.resolve("suite.md")));
        return rows.isEmpty() ? Main.FAILED : Main.OK;
    }
}
