package dev.cvpt.serve;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.cvpt.UserException;
import dev.cvpt.data.ImageDecoder;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * The HTTP front of a {@link Batcher}: the Open Inference Protocol (KServe v2) REST API with its
 * model-repository extension and Triton's classification parameter, a plain {@code /predict}
 * endpoint and Prometheus {@code /metrics}. Built on the JDK's {@code com.sun.net.httpserver}
 * (TCP_NODELAY on); see docs/SERVING.md for the API, the errors and why this server.
 *
 * <p>Every error is a JSON object {@code {"error": "one line"}}: 400 bad input, 404 unknown task or
 * route, 405 wrong method, 413 body over the limit, 429 queue full (with {@code Retry-After}),
 * 503 shutting down, 504 deadline passed in the queue.
 */
public final class Server implements AutoCloseable {
    static {
        // read once when the JDK server's configuration class loads: set it before any server starts
        if (System.getProperty("sun.net.httpserver.nodelay") == null) System.setProperty("sun.net.httpserver.nodelay", "true");
    }

    /**
     * @param host         address to bind (loopback by default)
     * @param port         0: an ephemeral port
     * @param maxBodyBytes request bodies over this get 413
     * @param maxPixels    images claiming more pixels in their header get 400 before decoding
     * @param httpThreads  handler threads (each waits for its images' batch)
     * @param repository   folder of task files for the repository extension (null: none)
     * @param maxImages    images per infer request at most
     */
    public record Options(String host, int port, long maxBodyBytes, long maxPixels, int httpThreads, Path repository, int maxImages) {
        public static Options defaults() { return new Options("127.0.0.1", 8080, 16L << 20, 25_000_000L, 64, null, 64); }

        public Options withPort(int p) { return new Options(host, p, maxBodyBytes, maxPixels, httpThreads, repository, maxImages); }

        public Options withRepository(Path r) { return new Options(host, port, maxBodyBytes, maxPixels, httpThreads, r, maxImages); }

        public Options withMaxBodyBytes(long b) { return new Options(host, port, b, maxPixels, httpThreads, repository, maxImages); }
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String VERSION = "0.1.0";

    private final Batcher batcher;
    private final Predictor predictor;
    private final Metrics metrics;
    private final Options o;
    private final HttpServer http;
    private final ExecutorService pool;
    private final Map<String, String> loadErrors = new ConcurrentHashMap<>();   // repository name -> why it is not loaded
    private volatile boolean draining;
    private final AtomicInteger inFlight = new AtomicInteger();

    private Server(Batcher batcher, Metrics metrics, Options o) throws IOException {
        this.batcher = batcher;
        this.predictor = batcher.predictor();
        this.metrics = metrics;
        this.o = o;
        http = HttpServer.create(new InetSocketAddress(o.host(), o.port()), 256);
        AtomicInteger n = new AtomicInteger();
        pool = Executors.newFixedThreadPool(o.httpThreads(), r -> {
            Thread t = new Thread(r, "cvpt-http-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        http.setExecutor(pool);
        http.createContext("/", this::handle);
    }

    /** Starts serving; {@link #port()} gives the bound port. */
    public static Server start(Batcher batcher, Metrics metrics, Options o) throws IOException {
        Server s = new Server(batcher, metrics, o);
        s.http.start();
        return s;
    }

    public int port() { return http.getAddress().getPort(); }

    public Metrics metrics() { return metrics; }

    /** Records why a repository task could not be loaded at start-up (shown by the index). */
    public void loadError(String name, String reason) { loadErrors.put(name, reason); }

    /**
     * The SIGTERM drain: readiness turns 503, the listener closes, requests in flight get their
     * answers (at most {@code graceSeconds}), then the batcher stops.
     */
    public void drain(int graceSeconds) {
        draining = true;
        long end = System.nanoTime() + graceSeconds * 1_000_000_000L;
        try {
            batcher.drain(Math.max(1, graceSeconds * 1000L));   // queued images answered at once, new ones 503
            while (inFlight.get() > 0 && System.nanoTime() < end) Thread.sleep(5);   // their answers written
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        // (HttpServer.stop(delay) of JDK 17 always waits the whole delay, busy or not: we waited above)
        http.stop(0);
        pool.shutdown();
    }

    @Override
    public void close() { drain(5); }

    // ------------------------------------------------------------------ routing

    /** An HTTP answer: status, body and content type. */
    private record Reply(int status, byte[] body, String type) {
        static Reply json(int status, Object body) {
            try {
                return new Reply(status, JSON.writeValueAsBytes(body), "application/json");
            } catch (JsonProcessingException e) {
                throw new UncheckedIOException(e);
            }
        }

        static Reply error(int status, String message) {
            String line = message == null ? "error" : message.lines().findFirst().orElse("error");
            return json(status, Map.of("error", line));
        }
    }

    /** A request problem that maps to an HTTP status. */
    static final class HttpError extends RuntimeException {
        final int status;

        HttpError(int status, String message) {
            super(message, null, false, false);
            this.status = status;
        }
    }

    private void handle(HttpExchange ex) throws IOException {
        inFlight.incrementAndGet();
        try {
            handleCounted(ex);
        } finally {
            inFlight.decrementAndGet();
        }
    }

    private void handleCounted(HttpExchange ex) throws IOException {
        long start = System.nanoTime();
        Reply r;
        boolean inference = false;
        try {
            String path = ex.getRequestURI().getRawPath();
            List<String> seg = new ArrayList<>();
            for (String s : path.split("/")) if (!s.isEmpty()) seg.add(URLDecoder.decode(s, StandardCharsets.UTF_8));
            inference = seg.size() >= 2 && (seg.get(0).equals("predict") || seg.get(seg.size() - 1).equals("infer"));
            r = route(ex, ex.getRequestMethod(), seg);
        } catch (HttpError e) {
            r = Reply.error(e.status, e.getMessage());
        } catch (Batcher.Rejected e) {
            r = Reply.error(e.status(), e.getMessage());
        } catch (JsonProcessingException e) {
            r = Reply.error(400, "malformed JSON: " + e.getOriginalMessage());
        } catch (UserException | IllegalArgumentException e) {
            r = Reply.error(400, e.getMessage());
        } catch (RuntimeException | Error e) {
            r = Reply.error(500, e.getClass().getSimpleName() + ": " + e.getMessage());
        }
        metrics.response(r.status());
        if (r.status() == 429) ex.getResponseHeaders().set("Retry-After", "1");
        ex.getResponseHeaders().set("Content-Type", r.type());
        try (ex) {
            ex.sendResponseHeaders(r.status(), r.body().length == 0 ? -1 : r.body().length);
            if (r.body().length > 0) {
                OutputStream os = ex.getResponseBody();
                os.write(r.body());
            }
        } finally {
            if (inference && r.status() == 200) metrics.requestSeconds.observe((System.nanoTime() - start) / 1e9);
        }
    }

    private Reply route(HttpExchange ex, String method, List<String> s) throws IOException {
        int n = s.size();
        String first = n > 0 ? s.get(0) : "";
        if (first.equals("metrics") && n == 1) {
            requireMethod(method, "GET");
            return new Reply(200, metrics.text().getBytes(StandardCharsets.UTF_8), "text/plain; version=0.0.4; charset=utf-8");
        }
        if (first.equals("predict") && n == 2) {
            requireMethod(method, "POST");
            return predict(ex, s.get(1));
        }
        if (!first.equals("v2")) throw new HttpError(404, "no route " + ex.getRequestURI().getRawPath());
        if (n == 1) {
            requireMethod(method, "GET");
            return Reply.json(200, Map.of("name", "cvpt", "version", VERSION, "extensions", List.of("model_repository", "classification")));
        }
        if (n == 3 && s.get(1).equals("health")) {
            requireMethod(method, "GET");
            return switch (s.get(2)) {
                case "live" -> Reply.json(200, Map.of("live", true));
                case "ready" -> draining ? Reply.json(503, Map.of("ready", false)) : Reply.json(200, Map.of("ready", true));
                default -> throw new HttpError(404, "no route " + ex.getRequestURI().getRawPath());
            };
        }
        if (s.get(1).equals("models") && n >= 3) {
            String task = s.get(2);
            List<String> rest = s.subList(3, n);
            if (rest.size() >= 2 && rest.get(0).equals("versions")) rest = rest.subList(2, rest.size());   // one version per task
            if (rest.isEmpty()) {
                requireMethod(method, "GET");
                return Reply.json(200, modelMetadata(batcher.task(task)));
            }
            if (rest.size() == 1 && rest.get(0).equals("ready")) {
                requireMethod(method, "GET");
                return Reply.json(200, Map.of("name", batcher.task(task).name(), "ready", !draining));
            }
            if (rest.size() == 1 && rest.get(0).equals("infer")) {
                requireMethod(method, "POST");
                return infer(ex, task);
            }
        }
        if (s.get(1).equals("repository")) {
            requireMethod(method, "POST");
            if (n == 3 && s.get(2).equals("index")) return Reply.json(200, index());
            if (n == 5 && s.get(2).equals("models")) {
                return switch (s.get(4)) {
                    case "load" -> load(s.get(3));
                    case "unload" -> unload(s.get(3));
                    default -> throw new HttpError(404, "no route " + ex.getRequestURI().getRawPath());
                };
            }
        }
        throw new HttpError(404, "no route " + ex.getRequestURI().getRawPath());
    }

    private static void requireMethod(String got, String want) {
        if (!got.equals(want)) throw new HttpError(405, "method " + got + " not allowed here (use " + want + ")");
    }

    // ------------------------------------------------------------------ inference

    private Reply predict(HttpExchange ex, String taskName) throws IOException {
        Predictor.Task t = batcher.task(taskName);
        int k = 5;
        String q = ex.getRequestURI().getRawQuery();
        if (q != null) {
            for (String kv : q.split("&")) {
                String[] p = kv.split("=", 2);
                if (p[0].equals("top_k")) k = positiveInt("top_k", p.length > 1 ? URLDecoder.decode(p[1], StandardCharsets.UTF_8) : "");
            }
        }
        byte[] body = body(ex);
        if (body.length == 0) throw new HttpError(400, "empty body: send the image file's bytes");
        float[] input = t.input(ImageDecoder.decodeRgb(body, Path.of("request body"), o.maxPixels()));
        float[] p = await(batcher.submit(t.name(), input));
        return Reply.json(200, t.top(p, k).stream().map(Predictor.Prediction::asMap).toList());
    }

    private Reply infer(HttpExchange ex, String taskName) throws IOException {
        Predictor.Task t = batcher.task(taskName);
        JsonNode req = JSON.readTree(body(ex));
        if (req == null || !req.isObject()) throw new HttpError(400, "the request body must be a JSON object with 'inputs'");
        JsonNode inputs = req.get("inputs");
        if (inputs == null || !inputs.isArray() || inputs.size() != 1)
            throw new HttpError(400, "'inputs' must be an array of exactly one tensor (the images), got " + (inputs == null ? "none" : inputs.isArray() ? inputs.size() + " tensors" : inputs.getNodeType().toString().toLowerCase(Locale.ROOT)));
        JsonNode in = inputs.get(0);
        String name = in.path("name").asText("image");
        long[] shape = shape(in.get("shape"));
        String datatype = in.path("datatype").asText("");
        JsonNode data = in.get("data");
        if (data == null || !data.isArray()) throw new HttpError(400, "inputs[0] (" + name + "): 'data' must be an array");
        int size = t.transform().size();
        List<float[]> images = switch (datatype) {
            case "BYTES" -> {
                if (!(shape.length == 1 || shape.length == 2 && shape[1] == 1))
                    throw new HttpError(400, "inputs[0] (" + name + "): BYTES shape must be [N] or [N,1] (one encoded image each), got " + java.util.Arrays.toString(shape));
                int count = checkCount(shape[0], name);
                List<String> items = new ArrayList<>();
                flatten(data, items::add, name);
                if (items.size() != count)
                    throw new HttpError(400, "inputs[0] (" + name + "): shape says " + count + " images, data holds " + items.size());
                List<float[]> out = new ArrayList<>();
                for (int i = 0; i < count; i++) {
                    byte[] img;
                    try {
                        img = Base64.getDecoder().decode(items.get(i));
                    } catch (IllegalArgumentException e) {
                        throw new HttpError(400, "inputs[0] (" + name + ") data[" + i + "]: not base64: " + e.getMessage());
                    }
                    out.add(t.input(ImageDecoder.decodeRgb(img, Path.of("inputs[0] data[" + i + "]"), o.maxPixels())));
                }
                yield out;
            }
            case "FP32" -> {
                boolean batched = shape.length == 4;
                if (!(batched || shape.length == 3) || shape[shape.length - 3] != 3 || shape[shape.length - 2] != size || shape[shape.length - 1] != size)
                    throw new HttpError(400, "inputs[0] (" + name + "): FP32 shape must be [N,3," + size + "," + size + "] or [3," + size + "," + size
                            + "] (normalised model input), got " + java.util.Arrays.toString(shape));
                int count = batched ? checkCount(shape[0], name) : 1;
                int per = 3 * size * size;
                float[] all = new float[count * per];
                int[] at = {0};
                flatten(data, v -> {
                    throw new HttpError(400, "inputs[0] (" + name + "): FP32 data must be numbers");
                }, name, all, at);
                if (at[0] != all.length)
                    throw new HttpError(400, "inputs[0] (" + name + "): shape " + java.util.Arrays.toString(shape) + " needs " + all.length + " numbers, data holds " + at[0]);
                List<float[]> out = new ArrayList<>();
                for (int i = 0; i < count; i++) out.add(java.util.Arrays.copyOfRange(all, i * per, (i + 1) * per));
                yield out;
            }
            default -> throw new HttpError(400, "inputs[0] (" + name + "): datatype must be BYTES (encoded images) or FP32 (model input), got '" + datatype + "'");
        };
        int classify = classification(req);
        String outName = "probabilities";
        JsonNode outs = req.get("outputs");
        if (outs != null) {
            if (!outs.isArray() || outs.size() > 1) throw new HttpError(400, "'outputs' must be an array of at most one output");
            if (outs.size() == 1) {
                outName = outs.get(0).path("name").asText(outName);
                int c = optionalClassification(outs.get(0).get("parameters"), "outputs[0].parameters.classification");
                if (c > 0) classify = c;
            }
        }
        List<CompletableFuture<float[]>> fut = batcher.submit(java.util.Collections.nCopies(images.size(), t.name()), images);
        List<float[]> probs = new ArrayList<>();
        for (CompletableFuture<float[]> f : fut) probs.add(await(f));
        ObjectNode res = JSON.createObjectNode();
        res.put("model_name", t.name());
        res.put("model_version", "1");
        if (req.hasNonNull("id")) res.set("id", req.get("id"));
        ArrayNode outputs = res.putArray("outputs");
        ObjectNode out = outputs.addObject();
        out.put("name", outName);
        int classes = probs.get(0).length;
        if (classify > 0) {
            int k = Math.min(classify, classes);
            out.putArray("shape").add(probs.size()).add(k);
            out.put("datatype", "BYTES");
            ArrayNode d = out.putArray("data");
            for (float[] p : probs)
                for (Predictor.Prediction pr : t.top(p, k))   // Triton's classification format: value:index:label
                    d.add(pr.probability() + ":" + pr.index() + ":" + pr.label());
        } else {
            out.putArray("shape").add(probs.size()).add(classes);
            out.put("datatype", "FP32");
            ArrayNode d = out.putArray("data");
            for (float[] p : probs) for (float v : p) d.add(v);
        }
        return Reply.json(200, res);
    }

    private int checkCount(long n, String name) {
        if (n < 1 || n > o.maxImages())
            throw new HttpError(400, "inputs[0] (" + name + "): " + n + " images; one request takes 1 to " + o.maxImages());
        return (int) n;
    }

    private static long[] shape(JsonNode s) {
        if (s == null || !s.isArray() || s.isEmpty()) throw new HttpError(400, "inputs[0]: 'shape' must be a non-empty array of integers");
        long[] out = new long[s.size()];
        for (int i = 0; i < out.length; i++) {
            if (!s.get(i).canConvertToLong() || !s.get(i).isIntegralNumber()) throw new HttpError(400, "inputs[0]: 'shape' must hold integers, got " + s);
            out[i] = s.get(i).asLong();
        }
        return out;
    }

    private static void flatten(JsonNode d, java.util.function.Consumer<String> out, String name) {
        for (JsonNode e : d) {
            if (e.isArray()) flatten(e, out, name);
            else if (e.isTextual()) out.accept(e.asText());
            else throw new HttpError(400, "inputs[0] (" + name + "): BYTES data must be base64 strings, got " + e.getNodeType().toString().toLowerCase(Locale.ROOT));
        }
    }

    private static void flatten(JsonNode d, java.util.function.Consumer<JsonNode> bad, String name, float[] out, int[] at) {
        for (JsonNode e : d) {
            if (e.isArray()) flatten(e, bad, name, out, at);
            else if (e.isNumber()) {
                if (at[0] >= out.length) { at[0]++; continue; }
                out[at[0]++] = (float) e.asDouble();
            } else bad.accept(e);
        }
    }

    private static int classification(JsonNode req) {
        return optionalClassification(req.get("parameters"), "parameters.classification");
    }

    private static int optionalClassification(JsonNode params, String where) {
        if (params == null || !params.has("classification")) return 0;
        JsonNode c = params.get("classification");
        if (!c.isIntegralNumber() || c.asInt() < 1) throw new HttpError(400, where + " must be a positive integer (top-k), got " + c);
        return c.asInt();
    }

    private static int positiveInt(String what, String v) {
        try {
            int k = Integer.parseInt(v);
            if (k >= 1) return k;
        } catch (NumberFormatException e) {
            // below
        }
        throw new HttpError(400, what + " must be a positive integer, got '" + v + "'");
    }

    private static float[] await(CompletableFuture<float[]> f) {
        try {
            return f.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            throw e;
        }
    }

    /** The body, at most maxBodyBytes (413 past it, before reading when Content-Length says so). */
    private byte[] body(HttpExchange ex) throws IOException {
        String len = ex.getRequestHeaders().getFirst("Content-Length");
        if (len != null) {
            long declared;
            try {
                declared = Long.parseLong(len.trim());
            } catch (NumberFormatException e) {
                throw new HttpError(400, "bad Content-Length '" + len + "'");
            }
            if (declared > o.maxBodyBytes()) {
                discard(ex.getRequestBody());
                throw new HttpError(413, "body of " + len.trim() + " bytes is over the limit of " + o.maxBodyBytes() + " bytes");
            }
        }
        try (InputStream in = ex.getRequestBody()) {
            byte[] b = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, o.maxBodyBytes() + 1));
            if (b.length > o.maxBodyBytes()) {
                discard(in);
                throw new HttpError(413, "body is over the limit of " + o.maxBodyBytes() + " bytes");
            }
            return b;
        }
    }

    /** Past this, a rejected body is not read on: the connection is closed under the client's upload. */
    private static final long DISCARD_LIMIT = 8L << 20;

    /**
     * Reads and drops what is left of a rejected body, up to {@link #DISCARD_LIMIT}: a client still
     * uploading when the server answers and closes gets its connection reset and may never see the
     * 413 (the JDK's client then reports "bytes received: 0").
     */
    private static void discard(InputStream in) throws IOException {
        byte[] buf = new byte[64 << 10];
        long left = DISCARD_LIMIT;
        for (int r; left > 0 && (r = in.read(buf, 0, (int) Math.min(buf.length, left))) > 0; ) left -= r;
    }

    private Map<String, Object> modelMetadata(Predictor.Task t) {
        int s = t.transform().size();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", t.name());
        m.put("versions", List.of("1"));
        m.put("platform", "cvpt");
        m.put("inputs", List.of(
                Map.of("name", "image", "datatype", "BYTES", "shape", List.of(-1)),
                Map.of("name", "pixels", "datatype", "FP32", "shape", List.of(-1, 3, s, s))));
        m.put("outputs", List.of(Map.of("name", "probabilities", "datatype", "FP32", "shape", List.of(-1, t.model().numClasses()))));
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("method", t.file().spec().method());
        p.put("classes", t.file().classNames());
        p.put("transform", t.transform().name());
        p.put("cache_bytes", t.cacheBytes());
        p.put("precision", t.model().precision().flag());
        m.put("parameters", p);
        return m;
    }

    // ------------------------------------------------------------------ repository

    /** Task files of the repository folder (and its subfolders, as `cvpt train` writes them): name -> file. */
    private Map<String, Path> repositoryFiles() {
        Map<String, Path> out = new java.util.TreeMap<>();
        if (o.repository() == null) return out;
        try (Stream<Path> s = Files.walk(o.repository(), 2)) {
            s.filter(p -> p.getFileName().toString().endsWith(".safetensors") && Files.isRegularFile(p))
                    .sorted().forEach(p -> out.putIfAbsent(p.getFileName().toString().replaceFirst("\\.safetensors$", ""), p));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    private List<Map<String, Object>> index() {
        Map<String, Map<String, Object>> rows = new java.util.TreeMap<>();
        repositoryFiles().keySet().forEach(name -> rows.put(name, row(name, "UNAVAILABLE", loadErrors.getOrDefault(name, "not loaded"))));
        for (Predictor.Task t : predictor.tasks()) rows.put(t.name(), row(t.name(), "READY", ""));
        return new ArrayList<>(rows.values());
    }

    private static Map<String, Object> row(String name, String state, String reason) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", name);
        m.put("version", "1");
        m.put("state", state);
        m.put("reason", reason);
        return m;
    }

    private Reply load(String name) {
        if (o.repository() == null) throw new HttpError(400, "no repository: start the server with --tasks DIR to load tasks by name");
        Path file = repositoryFiles().get(name);
        if (file == null) throw new HttpError(404, "no task file '" + name + ".safetensors' in the repository " + o.repository());
        if (predictor.hasTask(name)) batcher.unload(name);   // reload: the old one leaves between batches
        try {
            predictor.addTask(file, name);
        } catch (UserException | IllegalArgumentException e) {
            loadErrors.put(name, e.getMessage().lines().findFirst().orElse(""));
            throw new HttpError(400, e.getMessage());
        }
        loadErrors.remove(name);
        return Reply.json(200, Map.of("name", name, "state", "READY"));
    }

    private Reply unload(String name) {
        if (!batcher.unload(name)) throw new HttpError(404, "no task '" + name + "' is loaded");
        return Reply.json(200, Map.of("name", name, "state", "UNAVAILABLE"));
    }
}
