package dev.cvpt.train;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cvpt.demo.Demo;
import dev.cvpt.model.MethodSpec;
import dev.cvpt.synth.SyntheticTasks;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Each run owns its generators: two runs at the same time in one JVM give exactly what each gives alone. */
class RunGeneratorsTest {
    @TempDir static Path tmp;
    static Path data, ckpt;
    static final PrintStream QUIET = new PrintStream(OutputStream.nullOutputStream());

    @BeforeAll
    static void setUp() throws Exception {
        data = SyntheticTasks.write(tmp, "disk", 32, 5, 96, 0, 64, 2);
        ckpt = Demo.shippedBackbone(tmp);
    }

    static Trainer.Options opts(Path out, long seed, int threads) {
        // CVPT with prompt dropout and drop-path: every random draw of a run is exercised
        return new Trainer.Options(data, ckpt, out, new MethodSpec("cvpt", 3, 4, true, 0.1),
                new Recipe(3, 16, 2e-2, 0.05, 1, 0.1, 0.1, seed, 1), threads, false, false, OptionalInt.empty(), "disk", false);
    }

    static String fingerprint(Path run) throws Exception {
        JsonNode m = TaskFile.JSON.readTree(Files.readString(run.resolve("metrics.json")));
        // the per-epoch loss and accuracies, printed to the last bit, and the trained tensors
        return Files.readAllLines(run.resolve("metrics.csv")).stream().map(l -> {
            String[] c = l.split(",", -1);
            return c[2] + "," + c[3] + "," + c[7];
        }).toList() + " " + m.get("train_loss").asText() + " " + m.get("test_top1").asText()
                + " " + java.util.Arrays.hashCode(Files.readAllBytes(run.resolve("disk.safetensors")).length > 0
                ? tensorBytes(run.resolve("disk.safetensors")) : new byte[0]);
    }

    static byte[] tensorBytes(Path taskFile) {
        var t = dev.cvpt.io.Safetensors.read(taskFile).tensors();
        var out = new java.io.ByteArrayOutputStream();
        t.values().forEach(h -> { byte[] b = new byte[h.data().remaining()]; h.data().duplicate().get(b); out.writeBytes(b); });
        return out.toByteArray();
    }

    @Test
    void concurrentRunsMatchRunsAlone() throws Exception {
        for (int threads : new int[]{1, 2}) {
            Path a = tmp.resolve("a" + threads), b = tmp.resolve("b" + threads);
            Trainer.run(opts(a, 1, threads), false, QUIET);
            Trainer.run(opts(b, 2, threads), false, QUIET);
            String fa = fingerprint(a), fb = fingerprint(b);
            assertNotEquals(fa, fb, "different seeds give different runs");

            ExecutorService pool = Executors.newFixedThreadPool(2);
            try {
                Path ca = tmp.resolve("ca" + threads), cb = tmp.resolve("cb" + threads);
                List<Future<Trainer.Summary>> f = List.of(
                        pool.submit(() -> Trainer.run(opts(ca, 1, threads), false, QUIET)),
                        pool.submit(() -> Trainer.run(opts(cb, 2, threads), false, QUIET)));
                for (var x : f) x.get();
                assertEquals(fa, fingerprint(ca), "run A at the same time as B, " + threads + " threads");
                assertEquals(fb, fingerprint(cb), "run B at the same time as A, " + threads + " threads");
            } finally {
                pool.shutdownNow();
            }
        }
        // the driving thread has no generator left bound
        assertTrue(!dev.cvpt.engine.Rand.local());
    }

    @Test
    void warmupCoveringTheRunIsSaid() {
        Recipe official = Recipe.official();
        assertNull(Trainer.warmupWarning(official), "the official 100-epoch recipe is kept as it is, without a word");
        Recipe two = new Recipe(2, 32, 1e-3, 0.05, 10, 0.1, 0.1, 42, 10);
        String w = Trainer.warmupWarning(two);
        assertTrue(w != null && w.startsWith("warning: the 10 warmup epochs cover the whole 2-epoch run"), w);
        assertTrue(w.contains("--warmup 0"), w);
        assertEquals(1e-6, two.schedule().at(0), 0);   // and the schedule itself is unchanged
        assertNull(Trainer.warmupWarning(new Recipe(12, 32, 1e-3, 0.05, 10, 0.1, 0.1, 42, 10)));
        assertTrue(Trainer.warmupWarning(new Recipe(11, 32, 1e-3, 0.05, 10, 0.1, 0.1, 42, 10)) != null);
    }
}
