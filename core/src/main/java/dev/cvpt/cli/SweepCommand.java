package dev.cvpt.cli;

import dev.cvpt.train.Plan;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.OptionalInt;
import java.util.concurrent.Callable;

@Command(name = "sweep", sortOptions = false,
        description = {"Run a plan: one JSON line per training run (task, data, checkpoint, method, options, recipe, seed, out).",
                "--index I --workers K runs the lines j with j mod K = I, so a Kubernetes indexed Job, a Slurm array or a",
                "shell loop can share a plan. A run whose folder holds metrics.json is skipped; one with a training state resumes.",
                "Prints each run's metrics as one JSON line."})
public final class SweepCommand implements Callable<Integer> {
    @Option(names = "--plan", required = true, paramLabel = "PLAN.jsonl") Path plan;
    @Option(names = "--index", defaultValue = "0", paramLabel = "I", description = "This worker's index, 0..K-1 (default: ${DEFAULT-VALUE}).") int index;
    @Option(names = "--workers", defaultValue = "1", paramLabel = "K", description = "Number of workers sharing the plan (default: ${DEFAULT-VALUE}).") int workers;
    @Option(names = "--threads", description = "Override the plan's threads per run.") Integer threads;
    @Mixin DebugOption debug;

    @Override
    public Integer call() throws Exception {
        var lines = Plan.read(plan);
        var metrics = Plan.sweep(lines, index, workers, threads == null ? OptionalInt.empty() : OptionalInt.of(threads), System.err);
        for (var m : metrics) System.out.println(m.toString());
        return Main.OK;
    }
}
