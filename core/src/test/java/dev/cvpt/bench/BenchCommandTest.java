package dev.cvpt.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cvpt.cli.Main;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** `cvpt bench` on the micro ViT: one JSON line with bench.py's fields, sane values (no timing assertions). */
class BenchCommandTest {

    private static JsonNode bench(String... args) throws Exception {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int rc;
        try {
            System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
            rc = Main.execute(args);
        } finally {
            System.setOut(old);
        }
        String out = buf.toString(StandardCharsets.UTF_8).strip();
        assertEquals(Main.OK, rc, out);
        assertEquals(1, out.lines().count(), out);
        return new ObjectMapper().readTree(out);
    }

    @Test
    void trainOnMicroPrintsBenchPyFields() throws Exception {
        JsonNode j = bench("bench", "--method", "cvpt", "--size", "micro", "--batch", "4", "--steps", "3", "--warmup", "1",
                "--threads", "1", "--mode", "train");
        for (String f : new String[]{"code", "mode", "method", "size", "dim", "depth", "heads", "patch", "img", "batch", "prompts",
                "insert", "threads", "warmup", "steps", "step_s_median", "steps_per_s", "images_per_s", "step_s_all",
                "trainable_params", "rss_model_mib", "peak_rss_mib", "rss_step20_mib", "rss_last_mib", "torch"})
            assertTrue(j.has(f), "missing field " + f + ": " + j);
        assertEquals("train", j.get("mode").asText());
        assertEquals(64, j.get("dim").asInt());
        assertEquals(4, j.get("step_s_all").size());
        double med = j.get("step_s_median").asDouble();
        assertTrue(med > 0, j.toString());
        assertEquals(4 / med, j.get("images_per_s").asDouble(), 0.02 * 4 / med + 0.01);
        // prompts [4 blocks, 10, 64] + head 64*100 + 100
        assertEquals(4 * 10 * 64 + 64 * 100 + 100, j.get("trainable_params").asLong());
        double peak = j.get("peak_rss_mib").asDouble(), last = j.get("rss_last_mib").asDouble();
        assertTrue(peak > 10 && last > 10 && last <= peak + 1, j.toString());
    }

    @Test
    void inferAndOtherMethods() throws Exception {
        JsonNode j = bench("bench", "--method", "vpt-shallow", "--size", "micro", "--batch", "2", "--steps", "2", "--warmup", "0",
                "--threads", "1", "--mode", "infer");
        assertEquals("infer", j.get("mode").asText());
        assertEquals(2, j.get("step_s_all").size());
        assertEquals(10 * 64 + 6400 + 100, j.get("trainable_params").asLong());
        for (String m : new String[]{"cvpt-shallow", "vpt-deep", "linear", "full"}) {
            JsonNode k = bench("bench", "--method", m, "--size", "micro", "--batch", "2", "--steps", "1", "--warmup", "0", "--threads", "1");
            assertTrue(k.get("images_per_s").asDouble() > 0, k.toString());
        }
        assertEquals(Main.BAD_INPUT, Main.execute("bench", "--method", "nope", "--size", "micro"));
    }
}
