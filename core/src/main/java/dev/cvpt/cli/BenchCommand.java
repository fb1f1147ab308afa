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
    @Option(names = "--method", defaultValue = "cvpt", description = "cvpt, cvpt-shallow, vpt-deep, vpt-shallow, linear, full, vfpt, e2vpt, spt, lora, adapter, adaptformer or dyt (default: ${DEFAULT-VALUE}).")
    String method;
    @Option(names = "--size", defaultValue = "tiny", description = "micro, tiny, small or base (default: ${DEFAULT-VALUE}).")
    String size;
    @Option(names = "--batch", defaultValue = "32") int batch;
    @Option(names = "--steps", defaultValue = "5", description = "Timed steps (default: ${DEFAULT-VALUE}).") int steps;
    @Option(names = "--warmup", defaultValue = "1", description = "Untimed steps first (default: ${DEFAULT-VALUE}).") int warmup;
    @Option(names = "--threads", defaultValue = "0", description = "Compute threads (default: all cores).") int threads;
    @Option(names = "--mode", defaultValue = "train", description = "train (forward, loss, backward, AdamW), infer (eval forward), gemm (matmul GFLOP/s of the fc1 shape), precision (bf16 vs fp32 logits: relative error, top-1 agreement), serve (HTTP images/s and p50/p99, cross-task batching on/off; docs/SERVING.md) or soak (--serve-requests requests, status counts, RSS) (default: ${DEFAULT-VALUE}).")
    String mode;
    @Option(names = "--prompts", defaultValue = "10") int prompts;
    @Option(names = "--insert", defaultValue = "3") int insert;
    @Option(names = "--num-classes", defaultValue = "100") int numClasses;
    @Option(names = "--seed", defaultValue = "0") long seed;
    @Mixin PromptMethodFlags methodFlags;
    @Option(names = "--task", paramLabel = "FILE", description = "Adapter methods: bench this task file's model (its learned tensors) instead of random weights.") java.nio.file.Path task;
    @Option(names = "--checkpoint", paramLabel = "CKPT", description = "With --task: its backbone (default: the one it records).") java.nio.file.Path checkpoint;
    @Mixin AdapterMethodFlags adapterFlags;
    @Option(names = "--serve-seconds", defaultValue = "3", description = "serve/soak: seconds per load run (soak: at most) (default: ${DEFAULT-VALUE}).") double serveSeconds;
    @Option(names = "--serve-concurrency", defaultValue = "1,4,16", split = ",", description = "serve: client counts (soak: the largest) (default: ${DEFAULT-VALUE}).") java.util.List<Integer> serveConcurrency;
    @Option(names = "--serve-tasks", defaultValue = "1,8", split = ",", description = "serve: task counts (soak: the largest) (default: ${DEFAULT-VALUE}).") java.util.List<Integer> serveTasks;
    @Option(names = "--serve-delay-ms", defaultValue = "2", description = "serve/soak: the batcher's --max-delay-ms (default: ${DEFAULT-VALUE}).") double serveDelayMs;
    @Option(names = "--serve-queue", defaultValue = "256", description = "serve/soak: queue capacity (default: ${DEFAULT-VALUE}).") int serveQueue;
    @Option(names = "--serve-requests", defaultValue = "20000", description = "soak: requests in all (default: ${DEFAULT-VALUE}).") long serveRequests;
    @Option(names = "--serve-compute-threads", defaultValue = "1", description = "serve/soak: the batcher's compute threads (serve --compute-threads) (default: ${DEFAULT-VALUE}).") int serveComputeThreads;
    @Option(names = "--serve-repeats", defaultValue = "2", description = "serve: runs per setting, cross-task off and on alternating (default: ${DEFAULT-VALUE}).") int serveRepeats;
    @Mixin DebugOption debug;
    @Mixin PrecisionOption precisionOption;

    @Override
    public Integer call() throws Exception {
        precisionOption.apply();
        if (mode.equals("serve") || mode.equals("soak")) {
            if (!size.equals("demo") && !Bench.SIZES.contains(size)) throw new UserException("--size for serve/soak: demo or one of " + Bench.SIZES);
            if (serveSeconds <= 0 || serveConcurrency.stream().anyMatch(c -> c < 1) || serveTasks.stream().anyMatch(t -> t < 1)
                    || serveQueue < 1 || serveRequests < 1 || serveDelayMs < 0 || batch < 1 || serveComputeThreads < 1)
                throw new UserException("--serve-seconds, --serve-concurrency, --serve-tasks, --serve-queue, --serve-requests and --batch must be positive");
            dev.cvpt.bench.ServeBench.Options so = new dev.cvpt.bench.ServeBench.Options(size, serveConcurrency, serveTasks, serveSeconds,
                    batch, serveDelayMs, serveQueue, serveRequests, prompts, seed, Math.max(1, serveRepeats), serveComputeThreads);
            var out = mode.equals("serve") ? dev.cvpt.bench.ServeBench.run(so) : dev.cvpt.bench.ServeBench.soak(so);
            System.out.println(new ObjectMapper().writeValueAsString(out));
            System.out.flush();
            return Main.OK;
        }
        if (AdapterMethodFlags.handles(method)) {   // each against its baseline, same run (AdapterBench)
            var spec = adapterFlags.apply(new dev.cvpt.model.MethodSpec(method, insert, prompts, true, 0.1));
            System.out.println(new ObjectMapper().writeValueAsString(dev.cvpt.bench.AdapterBench.run(new dev.cvpt.bench.AdapterBench.Options(
                    spec, size, batch, steps, warmup, TrainCommand.threadCount(threads), mode, numClasses, seed, task, checkpoint))));
            return Main.OK;
        }
        Bench.Options o;
        try {
            o = new Bench.Options(method, size, batch, steps, warmup, TrainCommand.threadCount(threads), mode, prompts, insert,
                    numClasses, seed);
            o = o.withOptions(methodFlags.apply(Bench.spec(o), null).options());
        } catch (IllegalArgumentException e) {
            throw new UserException(e.getMessage());
        }
        System.out.println(new ObjectMapper().writeValueAsString(Bench.run(o)));
        System.out.flush();
        return Main.OK;
    }
}
