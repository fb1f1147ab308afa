package dev.cvpt.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cvpt.bench.ServeBench;
import dev.cvpt.cli.Main;
import dev.cvpt.data.ImageDecoder;
import dev.cvpt.model.MethodSpec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;
import java.util.zip.CRC32;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code cvpt serve} on the demo backbone with random-weight tasks (CVPT insert 3 and 4, VPT deep,
 * linear probe), on an ephemeral loopback port, through java.net.http: predictions equal
 * {@code cvpt predict}'s, for one task at a time and for batches that mix tasks; every hostile
 * request gets its 4xx and a one-line JSON reason, and the server keeps serving.
 */
class ServerTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> TASKS = List.of("cvpt", "cvpt4", "cvptb", "vpt", "linear");
    private static final double TOL = 2e-6;

    @TempDir static Path dir;
    static Path backbone, repo;
    static List<Path> images = new ArrayList<>();
    static Predictor predictor;
    static Batcher batcher;
    static Server server;
    static HttpClient http;

    @BeforeAll
    static void start() throws Exception {
        backbone = ServeBench.backbone("demo", dir, 0);
        repo = Files.createDirectories(dir.resolve("repo"));
        List<String> classes = List.of("zero", "one", "two", "three", "four", "five");
        ServeBench.randomTask(backbone, repo.resolve("cvpt.safetensors"), new MethodSpec("cvpt", 3, 5, true, 0.1), classes, "cvpt", 1);
        ServeBench.randomTask(backbone, repo.resolve("cvpt4.safetensors"), new MethodSpec("cvpt", 4, 3, true, 0.1), classes, "cvpt4", 2);
        ServeBench.randomTask(backbone, repo.resolve("cvptb.safetensors"), new MethodSpec("cvpt", 3, 5, true, 0.1), classes.subList(0, 4), "cvptb", 3);
        ServeBench.randomTask(backbone, repo.resolve("vpt.safetensors"), new MethodSpec("vpt", 3, 4, true, 0.1), classes, "vpt", 4);
        ServeBench.randomTask(backbone, repo.resolve("linear.safetensors"), new MethodSpec("linear", 3, 1, true, 0.1), classes, "linear", 5);
        // the same kind of file, trained on another backbone (random micro ViT): refused at load
        Path other = ServeBench.backbone("micro", Files.createDirectories(dir.resolve("other")), 9);
        ServeBench.randomTask(other, repo.resolve("foreign.safetensors"), new MethodSpec("cvpt", 3, 5, true, 0.1), classes, "foreign", 6);
        for (int i = 0; i < 3; i++) {
            Path f = dir.resolve("img" + i + ".png");
            Files.write(f, ServeBench.png(40 + 4 * i, 100 + i));
            images.add(f);
        }
        predictor = Predictor.load(backbone, OptionalInt.empty());
        for (String t : TASKS) predictor.addTask(repo.resolve(t + ".safetensors"), t);
        Metrics m = new Metrics();
        batcher = new Batcher(predictor, new Batcher.Options(16, 30, 64, 10_000, true, 2), m);   // two compute threads, as cvpt serve
        server = Server.start(batcher, m, Server.Options.defaults().withPort(0).withRepository(repo).withMaxBodyBytes(256 << 10));
        http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    }

    @AfterAll
    static void stop() {
        if (server != null) server.drain(2);
        if (predictor != null) predictor.close();
    }

    static HttpResponse<String> send(String method, String path, byte[] body, String type) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path));
        b = body == null ? b.method(method, HttpRequest.BodyPublishers.noBody()) : b.method(method, HttpRequest.BodyPublishers.ofByteArray(body));
        if (type != null) b.header("Content-Type", type);
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> post(String path, String json) throws Exception {
        return send("POST", path, json.getBytes(StandardCharsets.UTF_8), "application/json");
    }

    /** `cvpt predict --json` in this JVM: image -> predictions. */
    static Map<String, JsonNode> cli(String task, int top) throws Exception {
        List<String> args = new ArrayList<>(List.of("predict", "--task", repo.resolve(task + ".safetensors").toString(),
                "--checkpoint", backbone.toString(), "--json", "--top", Integer.toString(top), "--threads", "1"));
        images.forEach(p -> args.add(p.toString()));
        PrintStream old = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int rc;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            rc = Main.execute(args.toArray(String[]::new));
        } finally {
            System.setOut(old);
        }
        assertEquals(0, rc, out.toString(StandardCharsets.UTF_8));
        Map<String, JsonNode> m = new LinkedHashMap<>();
        for (String line : out.toString(StandardCharsets.UTF_8).split("\n")) {
            JsonNode n = JSON.readTree(line);
            m.put(n.get("image").asText(), n.get("predictions"));
        }
        return m;
    }

    static void assertSamePredictions(JsonNode want, JsonNode got, String what) {
        assertEquals(want.size(), got.size(), what);
        for (int i = 0; i < want.size(); i++) {
            assertEquals(want.get(i).get("index").asInt(), got.get(i).get("index").asInt(), what + " rank " + i);
            assertEquals(want.get(i).get("label").asText(), got.get(i).get("label").asText(), what + " rank " + i);
            assertEquals(want.get(i).get("probability").asDouble(), got.get(i).get("probability").asDouble(), TOL, what + " rank " + i);
        }
    }

    @Test
    void predictionsEqualCvptPredictOneTaskAtATimeAndMixed() throws Exception {
        Map<String, Map<String, JsonNode>> want = new LinkedHashMap<>();
        for (String t : TASKS) want.put(t, cli(t, 3));
        // one request at a time: each batch holds one image of one task
        for (String t : TASKS)
            for (Path img : images) {
                HttpResponse<String> r = send("POST", "/predict/" + t + "?top_k=3", Files.readAllBytes(img), "image/png");
                assertEquals(200, r.statusCode(), r.body());
                assertSamePredictions(want.get(t).get(img.toString()), JSON.readTree(r.body()), t + " " + img);
            }
        // every (task, image) at once to a batcher that waits for all 15 (up to 5 s): one batch mixes every task
        // (two forwards: the CVPT and linear rows share one, the VPT rows have their own signature)
        Metrics m = new Metrics();
        Batcher all = new Batcher(predictor, new Batcher.Options(TASKS.size() * images.size(), 5000, 64, 0, true), m);
        try (Server s = Server.start(all, m, Server.Options.defaults().withPort(0))) {
            List<CompletableFuture<HttpResponse<String>>> fut = new ArrayList<>();
            List<String> what = new ArrayList<>();
            for (String t : TASKS)
                for (Path img : images) {
                    fut.add(http.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + "/predict/" + t + "?top_k=3"))
                            .POST(HttpRequest.BodyPublishers.ofByteArray(Files.readAllBytes(img))).build(), HttpResponse.BodyHandlers.ofString()));
                    what.add(t + "|" + img);
                }
            for (int i = 0; i < fut.size(); i++) {
                HttpResponse<String> r = fut.get(i).join();
                String[] tw = what.get(i).split("\\|");
                assertEquals(200, r.statusCode(), r.body());
                assertSamePredictions(want.get(tw[0]).get(tw[1]), JSON.readTree(r.body()), "mixed " + what.get(i));
            }
            assertEquals(TASKS.size(), m.tasksPerBatch.sum() / m.tasksPerBatch.count(), 1e-9, "tasks per batch");
        }
    }

    /**
     * CVPT tasks of one insert and prompt count with a linear probe in one batch take the batched
     * cross-attention (TaskGroups merges their hooks), and a batcher with two compute threads (two
     * batches at once) answers as `cvpt predict` too.
     */
    @Test
    void batchedPromptSetsAndTwoComputeThreadsEqualCvptPredict() throws Exception {
        List<String> tasks = List.of("cvpt", "cvptb", "linear");
        Map<String, Map<String, JsonNode>> want = new LinkedHashMap<>();
        for (String t : tasks) want.put(t, cli(t, 3));
        for (int[] setting : new int[][]{{tasks.size() * images.size(), 5000}, {2, 0}}) {
            Metrics m = new Metrics();
            Batcher b = new Batcher(predictor, new Batcher.Options(setting[0], setting[1], 64, 0, true, 2), m);
            try (Server s = Server.start(b, m, Server.Options.defaults().withPort(0))) {
                List<CompletableFuture<HttpResponse<String>>> fut = new ArrayList<>();
                List<String> what = new ArrayList<>();
                for (int rep = 0; rep < (setting[0] == 2 ? 4 : 1); rep++)
                    for (String t : tasks)
                        for (Path img : images) {
                            fut.add(http.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + "/predict/" + t + "?top_k=3"))
                                    .POST(HttpRequest.BodyPublishers.ofByteArray(Files.readAllBytes(img))).build(), HttpResponse.BodyHandlers.ofString()));
                            what.add(t + "|" + img);
                        }
                for (int i = 0; i < fut.size(); i++) {
                    HttpResponse<String> r = fut.get(i).join();
                    String[] tw = what.get(i).split("\\|");
                    assertEquals(200, r.statusCode(), r.body());
                    assertSamePredictions(want.get(tw[0]).get(tw[1]), JSON.readTree(r.body()), "batch " + setting[0] + " " + what.get(i));
                }
                if (setting[0] > 2) assertEquals(tasks.size(), m.tasksPerBatch.sum() / m.tasksPerBatch.count(), 1e-9, "tasks per batch");
            }
        }
    }

    @Test
    void kserveInferBytesWithClassificationAndFp32TensorAgree() throws Exception {
        byte[] img = Files.readAllBytes(images.get(1));
        String b64 = Base64.getEncoder().encodeToString(img);
        HttpResponse<String> r = post("/v2/models/cvpt/infer", "{\"id\":\"q1\",\"inputs\":[{\"name\":\"image\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[\""
                + b64 + "\"]}],\"outputs\":[{\"name\":\"top\",\"parameters\":{\"classification\":2}}]}");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode out = JSON.readTree(r.body());
        assertEquals("q1", out.get("id").asText());
        assertEquals("cvpt", out.get("model_name").asText());
        JsonNode o = out.get("outputs").get(0);
        assertEquals("BYTES", o.get("datatype").asText());
        assertEquals("[1,2]", o.get("shape").toString());
        JsonNode plain = JSON.readTree(send("POST", "/predict/cvpt?top_k=2", img, null).body());
        for (int i = 0; i < 2; i++) {
            String[] f = o.get("data").get(i).asText().split(":", 3);   // value:index:label
            assertEquals(plain.get(i).get("index").asInt(), Integer.parseInt(f[1]));
            assertEquals(plain.get(i).get("label").asText(), f[2]);
            assertEquals(plain.get(i).get("probability").asDouble(), Double.parseDouble(f[0]), TOL);
        }
        // the same image as a normalised FP32 tensor: the same probabilities
        float[] x = predictor.task("cvpt").input(ImageDecoder.decodeRgb(img, images.get(1)));
        StringBuilder data = new StringBuilder();
        for (float v : x) data.append(data.length() == 0 ? "" : ",").append(v);
        HttpResponse<String> t = post("/v2/models/cvpt/versions/1/infer", "{\"inputs\":[{\"name\":\"pixels\",\"shape\":[1,3,32,32],\"datatype\":\"FP32\",\"data\":[" + data + "]}]}");
        assertEquals(200, t.statusCode(), t.body());
        JsonNode probs = JSON.readTree(t.body()).get("outputs").get(0);
        assertEquals("[1,6]", probs.get("shape").toString());
        assertEquals(plain.get(0).get("probability").asDouble(), probs.get("data").get(plain.get(0).get("index").asInt()).asDouble(), TOL);
        // metadata, health, index
        assertEquals(200, send("GET", "/v2", null, null).statusCode());
        assertEquals(200, send("GET", "/v2/health/live", null, null).statusCode());
        assertEquals(200, send("GET", "/v2/health/ready", null, null).statusCode());
        assertEquals(200, send("GET", "/v2/models/vpt/ready", null, null).statusCode());
        JsonNode meta = JSON.readTree(send("GET", "/v2/models/cvptb", null, null).body());
        assertEquals("[-1,4]", meta.get("outputs").get(0).get("shape").toString());
        String metrics = send("GET", "/metrics", null, null).body();
        assertTrue(metrics.contains("# TYPE cvpt_request_seconds histogram"), metrics);
        assertTrue(metrics.matches("(?s).*cvpt_tasks_loaded [1-9].*"), metrics);
        assertTrue(metrics.matches("(?s).*cvpt_cache_bytes [1-9].*"), metrics);   // the CVPT tasks' folded prompts
    }

    /** Asserts status and a one-line JSON {"error": ...} that contains the fragment. */
    static void assertError(int status, HttpResponse<String> r, String fragment) throws Exception {
        assertEquals(status, r.statusCode(), r.body());
        JsonNode n = JSON.readTree(r.body());
        String e = n.get("error").asText();
        assertFalse(e.contains("\n"), e);
        assertTrue(e.contains(fragment), "'" + e + "' should contain '" + fragment + "'");
    }

    @Test
    void hostileRequestsGetTheir4xxAndTheServerKeepsServing() throws Exception {
        assertError(400, post("/v2/models/cvpt/infer", "{\"inputs\": [ {\"name\": "), "malformed JSON");
        assertError(400, post("/v2/models/cvpt/infer", "[1,2]"), "JSON object");
        assertError(400, post("/v2/models/cvpt/infer", "{\"inputs\":[{\"name\":\"pixels\",\"shape\":[1,3,8,8],\"datatype\":\"FP32\",\"data\":[0]}]}"), "FP32 shape must be [N,3,32,32]");
        assertError(400, post("/v2/models/cvpt/infer", "{\"inputs\":[{\"name\":\"pixels\",\"shape\":[1,3,32,32],\"datatype\":\"FP32\",\"data\":[1,2,3]}]}"), "needs 3072 numbers, data holds 3");
        assertError(400, post("/v2/models/cvpt/infer", "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"INT64\",\"data\":[1]}]}"), "datatype must be BYTES");
        assertError(400, post("/v2/models/cvpt/infer", "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[\"@@@\"]}]}"), "not base64");
        assertError(400, post("/v2/models/cvpt/infer", "{\"inputs\":[{\"name\":\"x\",\"shape\":[2],\"datatype\":\"BYTES\",\"data\":[\"AAAA\"]}]}"), "shape says 2 images, data holds 1");
        assertError(400, post("/v2/models/cvpt/infer", "{\"inputs\":[]}"), "exactly one tensor");
        assertError(400, send("POST", "/predict/cvpt", "this is not an image".getBytes(StandardCharsets.UTF_8), null), "not a supported image format");
        assertError(400, send("POST", "/predict/cvpt?top_k=zero", Files.readAllBytes(images.get(0)), null), "top_k must be a positive integer");
        assertError(400, send("POST", "/predict/cvpt", pngHeader(6000, 6000), null), "exceeds the limit of 25000000 pixels");
        assertError(413, send("POST", "/predict/cvpt", new byte[300 << 10], null), "over the limit of 262144 bytes");
        assertError(404, send("POST", "/predict/nosuch", Files.readAllBytes(images.get(0)), null), "no task 'nosuch'");
        assertError(404, post("/v2/models/nosuch/infer", "{}"), "no task 'nosuch'");
        assertError(404, send("GET", "/v2/models/nosuch/ready", null, null), "no task 'nosuch'");
        assertError(404, send("GET", "/nowhere", null, null), "no route /nowhere");
        assertError(405, send("GET", "/predict/cvpt", null, null), "method GET not allowed");
        assertError(400, post("/v2/repository/models/foreign/load", "{}"), "trained on another backbone");
        assertError(404, post("/v2/repository/models/ghost/load", "{}"), "no task file 'ghost.safetensors'");
        assertError(404, post("/v2/repository/models/ghost/unload", "{}"), "no task 'ghost' is loaded");
        JsonNode index = JSON.readTree(post("/v2/repository/index", "{}").body());
        String foreign = "";
        for (JsonNode row : index) if (row.get("name").asText().equals("foreign")) foreign = row.get("state").asText() + " " + row.get("reason").asText();
        assertTrue(foreign.startsWith("UNAVAILABLE") && foreign.contains("another backbone"), foreign);
        // still serving
        assertEquals(200, send("POST", "/predict/cvpt", Files.readAllBytes(images.get(0)), null).statusCode());
    }

    @Test
    void unloadWhileRequestsAreInFlightThenLoadAgain() throws Exception {
        byte[] img = Files.readAllBytes(images.get(2));
        List<CompletableFuture<HttpResponse<String>>> fut = new ArrayList<>();
        for (int i = 0; i < 12; i++)
            fut.add(http.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/predict/linear"))
                    .POST(HttpRequest.BodyPublishers.ofByteArray(img)).build(), HttpResponse.BodyHandlers.ofString()));
        HttpResponse<String> u = post("/v2/repository/models/linear/unload", "{}");
        assertEquals(200, u.statusCode(), u.body());
        int ok = 0, gone = 0;
        for (CompletableFuture<HttpResponse<String>> f : fut) {
            HttpResponse<String> r = f.join();
            if (r.statusCode() == 200) ok++;
            else {
                assertError(404, r, "'linear'");
                gone++;
            }
        }
        assertEquals(12, ok + gone);
        assertError(404, send("POST", "/predict/linear", img, null), "no task 'linear'");
        assertEquals(200, send("POST", "/predict/cvpt", img, null).statusCode());
        HttpResponse<String> l = post("/v2/repository/models/linear/load", "{}");
        assertEquals(200, l.statusCode(), l.body());
        assertEquals(200, send("POST", "/predict/linear", img, null).statusCode());
    }

    @Test
    void fullQueueAnswers429WithRetryAfterAndDeadlinesDropWaitingImages() throws Exception {
        Metrics m = new Metrics();
        // a batcher that waits 3 s for a batch of 100: two images fill its queue of 2
        Batcher slow = new Batcher(predictor, new Batcher.Options(100, 3000, 2, 0, true), m);
        try (Server s = Server.start(slow, m, Server.Options.defaults().withPort(0))) {
            byte[] img = Files.readAllBytes(images.get(0));
            URI u = URI.create("http://127.0.0.1:" + s.port() + "/predict/cvpt");
            List<CompletableFuture<HttpResponse<String>>> queued = new ArrayList<>();
            for (int i = 0; i < 2; i++)
                queued.add(http.sendAsync(HttpRequest.newBuilder(u).POST(HttpRequest.BodyPublishers.ofByteArray(img)).build(), HttpResponse.BodyHandlers.ofString()));
            long t0 = System.nanoTime();
            while (slow.queueDepth() < 2 && System.nanoTime() - t0 < 2_000_000_000L) Thread.sleep(5);
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(u).POST(HttpRequest.BodyPublishers.ofByteArray(img)).build(), HttpResponse.BodyHandlers.ofString());
            assertError(429, r, "queue is full");
            assertEquals("1", r.headers().firstValue("Retry-After").orElse(""));
            for (CompletableFuture<HttpResponse<String>> f : queued) assertEquals(200, f.join().statusCode());   // answered when the delay ends
        }
        // deadline 1 ms, delay 50 ms: the image waits past its deadline and is dropped unanswered
        Batcher late = new Batcher(predictor, new Batcher.Options(100, 50, 8, 1, true), new Metrics());
        try {
            var f = late.submit("cvpt", predictor.task("cvpt").input(ImageDecoder.decodeRgb(images.get(0))));
            var e = org.junit.jupiter.api.Assertions.assertThrows(java.util.concurrent.CompletionException.class, f::join);
            assertEquals(504, ((Batcher.Rejected) e.getCause()).status());
        } finally {
            late.close();
        }
    }

    @Test
    void sigtermDrainsInFlightRequestsAndExitsZero() throws Exception {
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        Path logFile = dir.resolve("serve.log");   // the child's output (a file: a pipe loses what is left when the child exits)
        Process p = new ProcessBuilder(javaBin, "-Xmx512m", "-Xss4m", "-cp", cp, "dev.cvpt.cli.Main", "serve", "--checkpoint", backbone.toString(),
                "--task", repo.resolve("cvpt.safetensors").toString(), "--port", "0", "--max-delay-ms", "20000", "--max-batch", "64", "--deadline-ms", "0")
                .redirectErrorStream(true).redirectOutput(logFile.toFile()).start();
        try {
            long w = System.nanoTime();
            // the whole line, not a part of it still being written
            while (!Files.readString(logFile).contains("tasks loaded") && p.isAlive() && System.nanoTime() - w < 60_000_000_000L) Thread.sleep(20);
            String listening = Files.readString(logFile).lines().filter(l -> l.contains("listening on ") && l.contains("tasks loaded")).findFirst().orElse(null);
            assertTrue(listening != null, "no 'listening' line: " + Files.readString(logFile));
            String base = listening.replaceAll(".*listening on (http://[^ ]+).*", "$1");
            byte[] img = Files.readAllBytes(images.get(0));
            List<CompletableFuture<HttpResponse<String>>> fut = new ArrayList<>();
            for (int i = 0; i < 4; i++)   // they wait up to 20 s for a batch: queued when TERM comes
                fut.add(http.sendAsync(HttpRequest.newBuilder(URI.create(base + "/predict/cvpt")).POST(HttpRequest.BodyPublishers.ofByteArray(img)).build(),
                        HttpResponse.BodyHandlers.ofString()));
            long t0 = System.nanoTime();
            while (!http.send(HttpRequest.newBuilder(URI.create(base + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body()
                    .contains("cvpt_queue_depth 4") && System.nanoTime() - t0 < 15_000_000_000L) Thread.sleep(20);
            p.destroy();   // SIGTERM: the queued images are answered at once, then exit 0
            for (CompletableFuture<HttpResponse<String>> f : fut) assertEquals(200, f.join().statusCode());
            assertTrue(p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS), "still running 30 s after SIGTERM");
            String rest = Files.readString(logFile);
            assertEquals(0, p.exitValue(), rest);
            assertTrue(rest.contains("draining") && rest.contains("stopped"), rest);
        } finally {
            p.destroyForcibly();
        }
    }

    @Test
    void pastTheCacheBudgetATaskIsServedUncachedWithTheSameResults() throws Exception {
        float[] x = predictor.task("cvptb").input(ImageDecoder.decodeRgb(images.get(0)));
        float[] cached = predictor.probabilities(List.of(predictor.task("cvptb")), List.of(x), true).get(0);
        long one = predictor.task("cvptb").cacheBytes();
        assertTrue(one > 0, "cvptb has a prompt cache");
        try (Predictor small = Predictor.load(backbone, OptionalInt.empty())) {
            small.cacheBudget(one + one / 2);   // room for one CVPT task's cache, not two
            assertEquals(one, small.addTask(repo.resolve("cvpt.safetensors"), "cvpt").cacheBytes());
            Predictor.Task b = small.addTask(repo.resolve("cvptb.safetensors"), "cvptb");
            assertEquals(0, b.cacheBytes());
            assertEquals(one, small.cacheBytes());
            assertArrayEquals(cached, small.probabilities(List.of(b), List.of(x), true).get(0));
            assertTrue(small.removeTask("cvpt"));
            assertEquals(0, small.cacheBytes());
            assertEquals(one, small.addTask(repo.resolve("cvptb.safetensors"), "cvptb").cacheBytes());   // reloaded: fits now
        }
    }

    /** A PNG whose IHDR claims w x h RGB pixels, with a tiny IDAT (a decompression bomb's header). */
    static byte[] pngHeader(int w, int h) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(new byte[]{(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
        chunk(b, "IHDR", ByteBuffer.allocate(13).putInt(w).putInt(h).put(new byte[]{8, 2, 0, 0, 0}).array());
        chunk(b, "IDAT", new byte[]{0x78, (byte) 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01});
        chunk(b, "IEND", new byte[0]);
        return b.toByteArray();
    }

    private static void chunk(ByteArrayOutputStream b, String type, byte[] data) throws IOException {
        b.write(ByteBuffer.allocate(4).putInt(data.length).array());
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        b.write(t);
        b.write(data);
        CRC32 c = new CRC32();
        c.update(t);
        c.update(data);
        b.write(ByteBuffer.allocate(4).putInt((int) c.getValue()).array());
    }
}
