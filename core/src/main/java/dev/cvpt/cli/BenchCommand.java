package dev.cvpt.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cvpt.UserException;
import dev.cvpt.bench.Bench;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

@Command(name = "bench", sortOptions = false,
        description = {"Training-step or inference throughput and peak memory on random weights; prints one JSON line",
                "with the fields of shared/reference/bench.py (the PyTorch baseline), so the two compare directly."})
public final class BenchCommand implements Callable<Integer> {
    @Option(names = "--method", defaultValue = "cvpt", description = "cvpt, cvpt-shallow, vpt-deep, vpt-shallow, linear or full (default: ${DEFAULT-VALUE}).")
    String method;
    @Option(names = "--size", defaultValue = "tiny", description = "micro, tiny, small or base (default: ${DEFAULT-VALUE}).")
    String size;
    @Option(names = "--batch", defaultValue = "32") int batch;
    @Option(names = "--steps", defaultValue = "5", description = "Timed steps (default: ${DEFAULT-VALUE}).") int steps;
    @Option(names = "--warmup", defaultValue = "1", description = "Untimed steps first (default: ${DEFAULT-VALUE}).") int warmup;
    @Option(names = "--threads", defaultValue = "0", description = "Compute threads (default: all cores).") int threads;
    @Option(names = "--mode", defaultValue = "train", description = "train (forward, loss, backward, AdamW), infer (eval forward) or gemm (matmul GFLOP/s of the fc1 shape) (default: ${DEFAULT-VALUE}).")
    String mode;
    @Option(names = "--prompts", defaultValue = "10") int prompts;
    @Option(names = "--insert", defaultValue = "3") int insert;
    @Option(names = "--num-classes", defaultValue = "100") int numClasses;
    @Option(names = "--seed", defaultValue = "0") long seed;
    @Mixin DebugOption debug;

    @Override
    public Integer call() throws Exception {
        Bench.Options o;
        try {
            o = new Bench.Options(method, size, batch, steps, warmup, TrainCommand.threadCount(threads), mode, prompts, insert,
                    numClasses, seed);
        } catch (IllegalArgumentException e) {
            throw new UserException(e.getMessage());
        }
        System.out.println(new ObjectMapper().writeValueAsString(Bench.run(o)));
        System.out.flush();
        return Main.OK;
    }
}
