package dev.cvpt.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cvpt.demo.Demo;
import dev.cvpt.demo.RandomVit;
import dev.cvpt.engine.Native;
import dev.cvpt.engine.Tensors;
import dev.cvpt.io.HostTensor;
import dev.cvpt.io.Safetensors;
import dev.cvpt.model.Backbones;
import dev.cvpt.model.MethodSpec;
import dev.cvpt.model.VisionTransformer;
import dev.cvpt.model.VitConfig;
import dev.cvpt.serve.Batcher;
import dev.cvpt.serve.Metrics;
import dev.cvpt.serve.Predictor;
import dev.cvpt.serve.Server;
import dev.cvpt.train.TaskFile;
import org.bytedeco.javacpp.PointerScope;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import static dev.cvpt.train.TaskFile.JSON;
import static org.bytedeco.pytorch.global.torch.manual_seed;

/**
 * {@code cvpt bench --mode serve} and {@code --mode soak}: an in-process server on a loopback port
 * and closed-loop HTTP clients (java.net.http) in the same JVM posting PNGs to {@code /predict}.
 * Serve: images/s and p50/p99 latency per (tasks, cross-task batching, concurrency), all in one run;
 * soak: a fixed number of requests, the status counts and the RSS series.
 */
public final class ServeBench {
    private ServeBench() {}

    /** What to run. size: demo (the shipped backbone) or a {@link Bench#config} size with random weights. */
    public record Options(String size, List<Integer> concurrency, List<Integer> taskCounts, double seconds, int maxBatch,
                          double maxDelayMs, int queue, long requests, int prompts, long seed, int repeats, int computeThreads) {}

    /** A backbone file for the size: the demo backbone, or random (timm init) weights. */
    public static Path backbone(String size, Path dir, long seed) throws IOException {
        Path f = dir.resolve(size + "-vit.safetensors");
        if (size.equals("demo")) {
            try (InputStream in = ServeBench.class.getResourceAsStream(Demo.BACKBONE_RESOURCE)) {
                if (in == null) throw new IOException("the demo backbone is missing from the build");
                Files.copy(in, f, StandardCopyOption.REPLACE_EXISTING);
            }
            return f;
        }
        VitConfig cfg = Bench.config(size);
        Safetensors.write(f, RandomVit.init(cfg, seed), Map.of("heads", Integer.toString(cfg.heads())));
        return f;
    }

    /**
     * A task file with random prompts and head (as a fresh model draws them, seeded) for the backbone
     * file: what serving needs to measure speed and to check equality (not a trained task).
     */
    public static Path randomTask(Path backbone, Path file, MethodSpec spec, List<String> classes, String name, long seed) throws IOException {
        Native.load();
        var ckpt = dev.cvpt.io.Checkpoint.load(backbone);
        Backbones.Backbone bb = Backbones.backbone(backbone, ckpt.tensors(), ckpt.heads());
        try {
            return randomTask(bb, TaskFile.sha256(backbone), file, spec, classes, name, seed);
        } finally {
            bb.params().values().forEach(org.bytedeco.pytorch.Tensor::close);
        }
    }

    /** {@link #randomTask(Path, Path, MethodSpec, List, String, long)} on a loaded backbone (its file's SHA-256 given). */
    public static Path randomTask(Backbones.Backbone bb, String sha256, Path file, MethodSpec spec, List<String> classes, String name,
                                  long seed) throws IOException {
        Path backbone = bb.file();
        try (PointerScope s = new PointerScope()) {
            manual_seed(seed);
            VisionTransformer vit = Backbones.assemble(bb, spec, classes.size());
            Map<String, HostTensor> tensors = new LinkedHashMap<>();
            vit.trainableParameters().forEach((n, t) -> tensors.put(n, Tensors.toHost(t)));
            ObjectNode info = JSON.createObjectNode();
            info.put("format", "cvpt-task/1");
            info.put("name", name);
            info.put("method", spec.method());
            if (spec.method().equals("cvpt")) info.put("insert", spec.insert());
            if (spec.usesPrompts()) {
                info.put("prompts", spec.prompts());
                info.put("deep", spec.deep());
            }
            info.put("num_classes", classes.size());
            info.set("classes", JSON.valueToTree(classes));
            ObjectNode pre = info.putObject("preprocessing");
            pre.put("transform", "vtab");
            pre.put("size", bb.config().img());
            ObjectNode b = info.putObject("backbone");
            b.put("file", backbone.getFileName().toString());
            b.put("path", backbone.toAbsolutePath().normalize().toString());
            b.put("sha256", sha256);
            info.put("created", "random weights (ServeBench.randomTask, seed " + seed + ")");
            new TaskFile(file, tensors, info).write();
        }
        return file;
    }

    /** A random RGB PNG of side {@code side}. */
    public static byte[] png(int side, long seed) {
        BufferedImage im = new BufferedImage(side, side, BufferedImage.TYPE_INT_RGB);
        Random r = new Random(seed);
        for (int y = 0; y < side; y++) for (int x = 0; x < side; x++) im.setRGB(x, y, r.nextInt(1 << 24));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            ImageIO.write(im, "png", out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /** One load run's result. */
    record Load(long ok, long rejected, long other, double seconds, double[] latencyMs) {
        double imagesPerS() { return ok / seconds; }

        static Load merge(List<Load> runs) {
            return new Load(runs.stream().mapToLong(Load::ok).sum(), runs.stream().mapToLong(Load::rejected).sum(),
                    runs.stream().mapToLong(Load::other).sum(), runs.stream().mapToDouble(Load::seconds).sum(),
                    runs.stream().flatMapToDouble(l -> Arrays.stream(l.latencyMs())).toArray());
        }

        double p(double q) {
            if (latencyMs.length == 0) return Double.NaN;
            double[] s = latencyMs.clone();
            Arrays.sort(s);
            return s[Math.min(s.length - 1, (int) Math.ceil(q * s.length) - 1)];
        }
    }

    /**
     * Closed loop: {@code clients} threads, each posting the next image to the next task (round
     * robin) as soon as its previous answer came, for {@code seconds} or until {@code requests}
     * answers in all (whichever first).
     */
    static Load load(int port, List<String> tasks, List<byte[]> images, int clients, double seconds, long requests,
                     Map<Integer, AtomicLong> statuses) throws InterruptedException {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
        long end = System.nanoTime() + (long) (seconds * 1e9);
        AtomicLong sent = new AtomicLong(), ok = new AtomicLong(), rejected = new AtomicLong(), other = new AtomicLong();
        List<List<Double>> lat = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        long start = System.nanoTime();
        for (int c = 0; c < clients; c++) {
            int id = c;
            List<Double> mine = new ArrayList<>();
            lat.add(mine);
            Thread t = new Thread(() -> {
                int i = id;
                while (System.nanoTime() < end) {
                    long k = sent.getAndIncrement();
                    if (k >= requests) break;
                    String task = tasks.get((int) (k % tasks.size()));
                    HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/predict/" + task + "?top_k=1"))
                            .POST(HttpRequest.BodyPublishers.ofByteArray(images.get(i++ % images.size()))).build();
                    long t0 = System.nanoTime();
                    int status;
                    try {
                        status = http.send(req, HttpResponse.BodyHandlers.ofByteArray()).statusCode();
                    } catch (IOException e) {
                        status = -1;
                    } catch (InterruptedException e) {
                        return;
                    }
                    statuses.computeIfAbsent(status, s -> new AtomicLong()).incrementAndGet();
                    if (status == 200) {
                        mine.add((System.nanoTime() - t0) / 1e6);
                        ok.incrementAndGet();
                    } else if (status == 429) {
                        rejected.incrementAndGet();
                        try {
                            Thread.sleep(1);   // a polite client backs off (the server says Retry-After: 1 s; we stay short)
                        } catch (InterruptedException e) {
                            return;
                        }
                    } else other.incrementAndGet();
                }
            }, "bench-client-" + c);
            threads.add(t);
            t.start();
        }
        for (Thread t : threads) t.join();
        double secs = (System.nanoTime() - start) / 1e9;
        List<Double> all = new ArrayList<>();
        lat.forEach(all::addAll);
        return new Load(ok.get(), rejected.get(), other.get(), secs, all.stream().mapToDouble(Double::doubleValue).toArray());
    }

    /** Loads the tasks and serves them on an ephemeral loopback port. */
    record Running(Predictor predictor, Batcher batcher, Server server) implements AutoCloseable {
        @Override
        public void close() {
            server.drain(5);
        }
    }

    static Running serve(Predictor p, Options o, boolean crossTask) throws IOException {
        Metrics m = new Metrics();
        Batcher b = new Batcher(p, new Batcher.Options(o.maxBatch(), o.maxDelayMs(), o.queue(), 0, crossTask, o.computeThreads()), m);
        return new Running(p, b, Server.start(b, m, Server.Options.defaults().withPort(0)));
    }

    /** The serve benchmark: every (tasks, cross-task, concurrency) run, and the cross-task ratio. */
    public static Map<String, Object> run(Options o) throws IOException, InterruptedException {
        Native.configureThreads();
        Path dir = Files.createTempDirectory("cvpt-serve-bench");
        try {
            Path bb = backbone(o.size(), dir, o.seed());
            int maxTasks = o.taskCounts().stream().mapToInt(Integer::intValue).max().orElse(1);
            List<String> classes = java.util.stream.IntStream.range(0, 10).mapToObj(i -> "class" + i).toList();
            List<Path> files = new ArrayList<>();
            List<byte[]> images = new ArrayList<>();
            for (int i = 0; i < 16; i++) images.add(png(48, i));
            List<Map<String, Object>> rows = new ArrayList<>();
            try (Predictor p = Predictor.load(bb, OptionalInt.empty())) {
                String sha = TaskFile.sha256(bb);
                for (int t = 0; t < maxTasks; t++)
                    files.add(randomTask(p.backbone(), sha, dir.resolve("task" + t + ".safetensors"), new MethodSpec("cvpt", 3, o.prompts(), true, 0.1),
                            classes, "task" + t, o.seed() + 1 + t));
                for (Path f : files) p.addTask(f);
                for (int tasks : o.taskCounts()) {
                    List<String> names = files.subList(0, tasks).stream().map(f -> f.getFileName().toString().replace(".safetensors", "")).toList();
                    // both servers at once on one predictor; their runs alternate (off, on, off, on...) so that
                    // the shared machine's load changes hit both sides alike
                    try (Running off = serve(p, o, false); Running on = serve(p, o, true)) {
                        for (Running r : List.of(off, on))
                            load(r.server().port(), names, images, 4, Math.min(2, o.seconds()), Long.MAX_VALUE, new ConcurrentHashMap<>());  // warm-up (JIT)
                        for (int c : o.concurrency()) {
                            List<List<Load>> runs = List.of(new ArrayList<>(), new ArrayList<>());
                            double[] batchSum = new double[2], busy = new double[2];
                            long[] batchCount = new long[2];
                            for (int rep = 0; rep < o.repeats(); rep++) {
                                for (int side = 0; side < 2; side++) {
                                    Running r = side == 0 ? off : on;
                                    Metrics.Histogram bs = r.server().metrics().batchSize;
                                    long n0 = bs.count();
                                    double s0 = bs.sum(), c0 = r.server().metrics().computeSeconds.sum();
                                    runs.get(side).add(load(r.server().port(), names, images, c, o.seconds(), Long.MAX_VALUE, new ConcurrentHashMap<>()));
                                    batchSum[side] += bs.sum() - s0;
                                    busy[side] += r.server().metrics().computeSeconds.sum() - c0;
                                    batchCount[side] += bs.count() - n0;
                                }
                            }
                            for (int side = 0; side < 2; side++) {
                                Load l = Load.merge(runs.get(side));
                                Map<String, Object> row = new LinkedHashMap<>();
                                row.put("tasks", tasks);
                                row.put("cross_task", side == 1);
                                row.put("concurrency", c);
                                row.put("images_per_s", round(l.imagesPerS(), 1));
                                row.put("p50_ms", round(l.p(0.5), 2));
                                row.put("p99_ms", round(l.p(0.99), 2));
                                row.put("ok", l.ok());
                                row.put("rejected_429", l.rejected());
                                row.put("errors", l.other());
                                row.put("mean_batch", round(batchSum[side] / Math.max(1, batchCount[side]), 2));
                                // the batcher's share of the wall time spent in forwards: near 1 = compute-bound
                                row.put("compute_busy", round(busy[side] / l.seconds(), 2));
                                row.put("images_per_s_runs", runs.get(side).stream().map(x -> round(x.imagesPerS(), 1)).toList());
                                rows.add(row);
                                System.err.println("serve bench: " + row);
                            }
                        }
                    }
                }
            }
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("code", "cvpt-java");
            m.put("mode", "serve");
            m.put("size", o.size());
            m.put("prompts", o.prompts());
            m.put("max_batch", o.maxBatch());
            m.put("max_delay_ms", o.maxDelayMs());
            m.put("compute_threads", o.computeThreads());
            m.put("seconds_per_run", o.seconds());
            m.put("repeats", o.repeats());
            m.put("client", "java.net.http, closed loop, same JVM, loopback");
            m.put("rows", rows);
            m.put("cross_task_ratio", ratio(rows, maxTasks));
            m.put("cross_task_ratio_by_p99_bound", ratios(rows, maxTasks));
            m.put("torch_threads", Native.threads());
            m.put("cpus", Runtime.getRuntime().availableProcessors());
            return m;
        } finally {
            deleteTree(dir);
        }
    }

    /**
     * With the most tasks: the p99 bound is the largest p99 of the runs without cross-task batching;
     * the best images/s of each side among its runs within that bound, and their ratio.
     */
    static Map<String, Object> ratio(List<Map<String, Object>> rows, int tasks) {
        double bound = rows.stream().filter(r -> (int) r.get("tasks") == tasks && !(boolean) r.get("cross_task"))
                .mapToDouble(r -> (double) r.get("p99_ms")).max().orElse(Double.NaN);
        double off = best(rows, tasks, false, bound), on = best(rows, tasks, true, bound);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("tasks", tasks);
        m.put("p99_bound_ms", bound);
        m.put("images_per_s_off", off);
        m.put("images_per_s_on", on);
        m.put("ratio", Double.isNaN(on / off) ? Double.NaN : round(on / off, 2));   // NaN: a side never met the bound
        return m;
    }

    /**
     * Throughput against latency, with the most tasks: for every p99 bound that one of the runs has
     * (each run's p99), the best images/s of each side within it and their ratio; a bound that one
     * side never meets gives NaN there.
     */
    static List<Map<String, Object>> ratios(List<Map<String, Object>> rows, int tasks) {
        List<Map<String, Object>> out = new ArrayList<>();
        rows.stream().filter(r -> (int) r.get("tasks") == tasks).mapToDouble(r -> (double) r.get("p99_ms")).sorted().distinct()
                .forEach(bound -> {
                    double off = best(rows, tasks, false, bound), on = best(rows, tasks, true, bound);
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("p99_bound_ms", bound);
                    m.put("images_per_s_off", off);
                    m.put("images_per_s_on", on);
                    m.put("ratio", Double.isNaN(on / off) ? Double.NaN : round(on / off, 2));   // NaN: a side never met the bound
                    out.add(m);
                });
        return out;
    }

    private static double best(List<Map<String, Object>> rows, int tasks, boolean cross, double bound) {
        return rows.stream().filter(r -> (int) r.get("tasks") == tasks && (boolean) r.get("cross_task") == cross
                        && (double) r.get("p99_ms") <= bound)
                .mapToDouble(r -> (double) r.get("images_per_s")).max().orElse(Double.NaN);
    }

    /**
     * The soak: {@code requests} requests over all tasks at the highest concurrency, a small queue (so
     * that some 429s are intended), in phases of 1000 requests with RSS in use read between phases.
     */
    public static Map<String, Object> soak(Options o) throws IOException, InterruptedException {
        Native.configureThreads();
        Path dir = Files.createTempDirectory("cvpt-serve-soak");
        try {
            Path bb = backbone(o.size(), dir, o.seed());
            int tasks = o.taskCounts().stream().mapToInt(Integer::intValue).max().orElse(8);
            List<String> classes = java.util.stream.IntStream.range(0, 10).mapToObj(i -> "class" + i).toList();
            List<String> names = new ArrayList<>();
            List<Path> files = new ArrayList<>();
            List<MethodSpec> specs = new ArrayList<>();
            for (int t = 0; t < tasks; t++) {
                MethodSpec spec = switch (t % 3) {   // a mix of methods: two forwards per batch (VPT has its own signature)
                    case 0 -> new MethodSpec("cvpt", 3, o.prompts(), true, 0.1);
                    case 1 -> new MethodSpec("vpt", 3, o.prompts(), true, 0.1);
                    default -> new MethodSpec("linear", 3, o.prompts(), true, 0.1);
                };
                files.add(dir.resolve("task" + t + ".safetensors"));
                specs.add(spec);
                names.add("task" + t);
            }
            List<byte[]> images = new ArrayList<>();
            for (int i = 0; i < 16; i++) images.add(png(48, i));
            int c = o.concurrency().stream().mapToInt(Integer::intValue).max().orElse(16);
            List<Double> rss = new ArrayList<>();
            Map<Integer, AtomicLong> st = new ConcurrentHashMap<>();
            Load l;
            try (Predictor p = Predictor.load(bb, OptionalInt.empty())) {
                String sha = TaskFile.sha256(bb);
                for (int t = 0; t < tasks; t++) {
                    randomTask(p.backbone(), sha, files.get(t), specs.get(t), classes, names.get(t), o.seed() + 1 + t);
                    p.addTask(files.get(t));
                }
                try (Running r = serve(p, o, true)) {
                    // phases of 1000 requests; between two phases nothing is in flight, and RSS in use
                    // (after a full GC and malloc_trim) is read then
                    List<Load> phases = new ArrayList<>();
                    long t0 = System.nanoTime();
                    for (long done = 0; done < o.requests() && System.nanoTime() - t0 < o.seconds() * 1e9; done += 1000) {
                        phases.add(load(r.server().port(), names, images, c, o.seconds() - (System.nanoTime() - t0) / 1e9,
                                Math.min(1000, o.requests() - done), st));
                        rss.add(Bench.inUse());
                    }
                    l = Load.merge(phases);
                }
            }
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("code", "cvpt-java");
            m.put("mode", "soak");
            m.put("size", o.size());
            m.put("tasks", tasks);
            m.put("concurrency", c);
            m.put("queue", o.queue());
            m.put("requests_sent", l.ok() + l.rejected() + l.other());
            m.put("ok", l.ok());
            m.put("rejected_429", l.rejected());
            m.put("other_errors", l.other());
            Map<String, Long> sc = new java.util.TreeMap<>();
            st.forEach((k, v) -> sc.put(Integer.toString(k), v.get()));
            m.put("status_counts", sc);
            m.put("seconds", round(l.seconds(), 1));
            m.put("images_per_s", round(l.imagesPerS(), 1));
            m.put("p50_ms", round(l.p(0.5), 2));
            m.put("p99_ms", round(l.p(0.99), 2));
            m.put("rss_in_use_mib_every_1000_requests", rss.stream().map(v -> round(v, 1)).toList());
            if (rss.size() >= 4) {
                // after warm-up (the first quarter dropped), halves compared by their median and their
                // floor: a leak lifts both; the Java heap's resident size after a GC scatters single readings
                List<Double> after = rss.subList(rss.size() / 4, rss.size());
                List<Double> a = after.subList(0, after.size() / 2), b = after.subList(after.size() / 2, after.size());
                m.put("rss_first_half_median_mib", round(median(a), 1));
                m.put("rss_second_half_median_mib", round(median(b), 1));
                m.put("rss_median_change_pct", round(100 * (median(b) - median(a)) / median(a), 2));
                double fa = a.stream().mapToDouble(Double::doubleValue).min().orElse(0), fb = b.stream().mapToDouble(Double::doubleValue).min().orElse(0);
                m.put("rss_floor_change_pct", round(100 * (fb - fa) / fa, 2));
            }
            return m;
        } finally {
            deleteTree(dir);
        }
    }

    private static double median(List<Double> v) {
        double[] s = v.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static double round(double v, int digits) {
        double s = Math.pow(10, digits);
        return Math.round(v * s) / s;
    }

    private static void deleteTree(Path p) {
        try (var s = Files.walk(p)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        } catch (IOException e) {
            // temporary folder: best effort
        }
    }
}
