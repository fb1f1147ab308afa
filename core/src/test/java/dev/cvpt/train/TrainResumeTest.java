package dev.cvpt.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cvpt.TestData;
import dev.cvpt.cli.Main;
import dev.cvpt.io.Safetensors;
import dev.cvpt.synth.SyntheticTasks;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Training end to end on a small synthetic task: it learns, eval agrees, and a kill -9 + --resume changes nothing. */
class TrainResumeTest {
    @TempDir static Path tmp;
    static Path data;

    @BeforeAll
    static void makeData() throws IOException {
        data = SyntheticTasks.write(tmp, "disk", 32, 3, 320, 0, 128, 2);
    }

    static List<String> args(Path out) {
        return new ArrayList<>(List.of("train", "--data", data.toString(), "--checkpoint", TestData.golden("micro.npz").toString(),
                "--out", out.toString(), "--method", "cvpt", "--prompts", "5", "--epochs", "30", "--lr", "5e-3",
                "--eval-every", "5", "--threads", "1", "--no-progress"));
    }

    @Test
    void learnsEvaluatesAndResumesExactly() throws Exception {
        Path u = tmp.resolve("unbroken");
        assertEquals(Main.OK, Main.execute(args(u).toArray(String[]::new)));
        JsonNode m = json(u.resolve("metrics.json"));
        assertTrue(m.get("test_top1").asDouble() > 90, "CVPT should learn the disk colour: " + m);
        for (String f : List.of("disk.safetensors", "disk.json", "metrics.csv", "loss.png", "accuracy.png", "train.log", "run.json"))
            assertTrue(Files.size(u.resolve(f)) > 0, f);
        assertEquals(List.of("Prompt_Tokens", "head.weight", "head.bias"),
                new ArrayList<>(Safetensors.read(u.resolve("disk.safetensors")).tensors().keySet()));

        // eval on the saved task file prints exactly the training's final test top-1
        var out = new java.io.ByteArrayOutputStream();
        var old = System.out;
        System.setOut(new java.io.PrintStream(out, true));
        try {
            assertEquals(Main.OK, Main.execute("eval", "--data", data.toString(), "--task", u.resolve("disk.safetensors").toString(), "--threads", "1"));
        } finally {
            System.setOut(old);
        }
        assertEquals(m.get("test_top1").asDouble(), new ObjectMapper().readTree(out.toString()).get("test_top1").asDouble(), 0.0);

        // the same run in another JVM, killed with SIGKILL mid-run, then resumed
        Path k = tmp.resolve("killed");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(args(k));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve("killed.log").toFile());
        pb.environment().put("OPENBLAS_NUM_THREADS", "1");
        Process p = pb.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        int epoch = -1;
        while (p.isAlive() && System.nanoTime() < deadline) {
            epoch = savedEpoch(k.resolve(Trainer.STATE));
            if (epoch >= 3) break;
            Thread.sleep(5);
        }
        assertTrue(p.isAlive(), "the run ended before it could be killed (epoch " + epoch + ")");
        p.destroyForcibly().waitFor();  // SIGKILL
        assertTrue(epoch >= 3 && epoch < 29, "killed at epoch " + epoch);
        assertTrue(!Files.exists(k.resolve("metrics.json")));

        assertEquals(Main.OK, Main.execute("train", "--resume", k.toString(), "--no-progress", "--threads", "1"));
        JsonNode r = json(k.resolve("metrics.json"));
        for (String f : List.of("test_top1", "test_top1_best", "test_top1_best_epoch", "epochs"))
            assertEquals(m.get(f).asText(), r.get(f).asText(), f);
        assertEquals(m.get("train_loss").asDouble(), r.get("train_loss").asDouble(), 1e-6 * m.get("train_loss").asDouble());
        assertEquals(column(u, 7), column(k, 7), "test accuracy per epoch");
        assertEquals(column(u, 1), column(k, 1), "lr per epoch");
    }

    static int savedEpoch(Path state) {
        try {
            if (!Files.exists(state)) return -1;
            return Integer.parseInt(Safetensors.read(state).metadata().get("epoch"));
        } catch (RuntimeException e) {
            return -1;  // being renamed into place
        }
    }

    static List<String> column(Path run, int c) throws IOException {
        return Files.readAllLines(run.resolve("metrics.csv")).stream().map(l -> l.split(",", -1)[c]).toList();
    }

    static JsonNode json(Path p) throws IOException { return new ObjectMapper().readTree(Files.readString(p)); }
}
