package dev.cvpt.cli;

import dev.cvpt.UserException;
import dev.cvpt.engine.Native;
import dev.cvpt.serve.Batcher;
import dev.cvpt.serve.Metrics;
import dev.cvpt.serve.Predictor;
import dev.cvpt.serve.Server;
import dev.cvpt.train.TaskFile;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Stream;

@Command(name = "serve", sortOptions = false, description = {
        "Serves every task of one backbone over HTTP: the Open Inference Protocol (KServe v2) REST API with the",
        "model-repository extension, POST /predict/<task>?top_k=5 with the image bytes, and Prometheus /metrics.",
        "Requests for any task share one queue and batches (see docs/SERVING.md). SIGTERM drains and exits 0."})
public final class ServeCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, paramLabel = "CKPT", description = "The backbone every task was trained on.") Path checkpoint;
    @Option(names = "--tasks", paramLabel = "DIR", description = "Repository folder: its task files (*.safetensors, two levels deep) load at start and by name through /v2/repository.") Path tasksDir;
    @Option(names = "--task", paramLabel = "FILE", description = "A task file to load (repeatable).") List<Path> taskFiles = new ArrayList<>();
    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to bind (default: ${DEFAULT-VALUE}).") String host;
    @Option(names = "--port", defaultValue = "8080", description = "Port (0: any free one; default: ${DEFAULT-VALUE}).") int port;
    @Option(names = "--max-batch", defaultValue = "16", description = "Images per batch (default: ${DEFAULT-VALUE}).") int maxBatch;
    @Option(names = "--max-delay-ms", defaultValue = "5", description = "Longest wait of a batch's oldest image (default: ${DEFAULT-VALUE}).") double maxDelayMs;
    @Option(names = "--queue", defaultValue = "256", description = "Images waiting at most; past it 429 (default: ${DEFAULT-VALUE}).") int queue;
    @Option(names = "--deadline-ms", defaultValue = "10000", description = "An image not started this long after arrival is dropped with 504 (0: none; default: ${DEFAULT-VALUE}).") long deadlineMs;
    @Option(names = "--compute-threads", defaultValue = "2", description = "Batcher threads, each forming and computing its own batches with single-threaded torch: 2 keeps two cores computing (default: ${DEFAULT-VALUE}; docs/SERVING.md).") int computeThreads;
    @Option(names = "--no-cross-task", description = "Batch each task apart (the baseline of cross-task batching).") boolean noCrossTask;
    @Option(names = "--cache-mib", defaultValue = "256", description = "Byte budget of the tasks' prompt caches in MiB (default: ${DEFAULT-VALUE}).") long cacheMib;
    @Option(names = "--max-body-mib", defaultValue = "16", description = "Request bodies over this get 413 (default: ${DEFAULT-VALUE}).") long maxBodyMib;
    @Option(names = "--max-pixels", defaultValue = "25000000", description = "Images claiming more pixels get 400 before decoding (default: ${DEFAULT-VALUE}).") long maxPixels;
    @Option(names = "--http-threads", defaultValue = "64", description = "HTTP handler threads (default: ${DEFAULT-VALUE}).") int httpThreads;
    @Option(names = "--heads") Integer heads;
    @Mixin DebugOption debug;
    @Mixin PrecisionOption precisionOption;

    @Override
    public Integer call() throws Exception {
        precisionOption.apply();
        if (tasksDir == null && taskFiles.isEmpty()) throw new UserException("give --tasks DIR or --task FILE");
        if (tasksDir != null && !Files.isDirectory(tasksDir)) throw new UserException("--tasks " + tasksDir + ": not a folder");
        Batcher.Options bo;
        try {
            bo = new Batcher.Options(maxBatch, maxDelayMs, queue, deadlineMs, !noCrossTask, computeThreads);
        } catch (IllegalArgumentException e) {
            throw new UserException(e.getMessage());
        }
        if (cacheMib < 0 || maxBodyMib < 1 || maxPixels < 1 || httpThreads < 1 || port < 0 || port > 65535)
            throw new UserException("--cache-mib must not be negative; --max-body-mib, --max-pixels, --http-threads positive; --port 0..65535");
        Native.configureThreads();
        Predictor p = Predictor.load(checkpoint, heads == null ? OptionalInt.empty() : OptionalInt.of(heads));
        p.cacheBudget(cacheMib << 20);
        for (Path f : taskFiles) p.addTask(f);   // an explicit task that does not fit is an error (exit 2)
        Metrics metrics = new Metrics();
        Batcher batcher = new Batcher(p, bo, metrics);
        Server server = Server.start(batcher, metrics, new Server.Options(host, port, maxBodyMib << 20, maxPixels, httpThreads, tasksDir, 64));
        if (tasksDir != null) {
            List<Path> files;
            try (Stream<Path> s = Files.walk(tasksDir, 2)) {
                files = s.filter(f -> f.getFileName().toString().endsWith(".safetensors") && Files.isRegularFile(f)).sorted().toList();
            }
            for (Path f : files) {
                String name = f.getFileName().toString().replaceFirst("\\.safetensors$", "");
                if (p.hasTask(name)) continue;
                try {
                    TaskFile.read(f);
                    p.addTask(f, name);
                } catch (UserException | IllegalArgumentException e) {   // a repository file that does not fit stays unloaded
                    System.err.println("cvpt serve: not loaded: " + e.getMessage());
                    server.loadError(name, e.getMessage().lines().findFirst().orElse(""));
                }
            }
        }
        CountDownLatch stop = new CountDownLatch(1);
        sun.misc.SignalHandler h = sig -> stop.countDown();
        sun.misc.Signal.handle(new sun.misc.Signal("TERM"), h);
        sun.misc.Signal.handle(new sun.misc.Signal("INT"), h);
        System.out.printf("cvpt serve: listening on http://%s:%d (%d tasks loaded, prompt caches %d bytes)%n",
                host, server.port(), p.tasks().size(), p.cacheBytes());
        System.out.flush();
        stop.await();
        System.out.println("cvpt serve: draining");
        System.out.flush();
        server.drain(30);
        p.close();
        System.out.println("cvpt serve: stopped");
        System.out.flush();
        return Main.OK;
    }
}
