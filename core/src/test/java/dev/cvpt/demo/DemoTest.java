package dev.cvpt.demo;

import dev.cvpt.cli.Main;
import dev.cvpt.io.Checkpoint;
import dev.cvpt.model.Backbones;
import dev.cvpt.model.VitConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The demo and the pretraining of its backbone, shrunk to seconds (the full demo's figures are in the README). */
class DemoTest {
    @TempDir Path tmp;

    @Test
    void shippedBackboneIsTheDemoShape() throws Exception {
        Path f = Demo.shippedBackbone(tmp);
        Checkpoint c = Checkpoint.load(f);
        assertEquals(Pretrain.DEMO, Backbones.configOf(f, c.tensors(), c.heads()));
        assertTrue(Files.size(f) < 4 << 20, "the shipped backbone must stay a few MB");
    }

    @Test
    void smallDemoWritesTheTable() throws Exception {
        Path out = tmp.resolve("demo");
        String[] args = {"demo", "--out", out.toString(), "--epochs", "2", "--train", "64", "--val", "16", "--test", "32",
                "--lr", "1e-2,1e-1", "--threads", "1", "--seed", "3"};
        assertEquals(Main.OK, Main.execute(args));
        List<String> md = Files.readAllLines(out.resolve("demo.md"));
        for (String task : Demo.TASKS)
            assertTrue(md.stream().anyMatch(l -> l.matches("\\| " + task + " \\| [0-9.]+ \\| [0-9.]+ \\| [0-9.]+ \\| [-+][0-9.]+ \\| (0\\.01|0\\.1) / (0\\.01|0\\.1) / (0\\.01|0\\.1) \\|")), task + " in " + md);
        assertTrue(Files.size(out.resolve("demo.png")) > 1000);
        assertEquals(1 + Demo.TASKS.size() * Demo.METHODS.size(), Files.readAllLines(out.resolve("demo.csv")).size());
        // a second run finds every result and trains nothing again
        // each cell is a tune: both lrs tried on val, the chosen one retrained on train+val
        var tune = dev.cvpt.train.TaskFile.JSON.readTree(Files.readString(out.resolve("runs/number-cvpt/tune.json")));
        assertEquals(3, tune.get("runs").size());
        assertTrue(md.stream().anyMatch(l -> l.contains("lr that its own val split picks")), md.toString());
        // --seed reaches the images and the training
        assertEquals(3, dev.cvpt.train.TaskFile.JSON.readTree(Files.readString(out.resolve("data/number/synthetic.json"))).get("seed").asLong());
        Path fin = out.resolve("runs/number-cvpt/final/seed3/metrics.json");
        long before = Files.getLastModifiedTime(fin).toMillis();
        assertEquals(Main.OK, Main.execute(args));
        assertEquals(before, Files.getLastModifiedTime(fin).toMillis());
    }

    @Test
    void pretrainWritesAHeadlessBackbone() throws Exception {
        Path out = tmp.resolve("b.safetensors");
        assertEquals(Main.OK, Main.execute("pretrain", "--out", out.toString(), "--images", "96", "--epochs", "1",
                "--dim", "32", "--depth", "2", "--heads", "2", "--patch", "8", "--img", "32"));
        Checkpoint c = Checkpoint.load(out);
        assertEquals(OptionalInt.of(2), c.heads());
        assertTrue(c.tensors().keySet().stream().noneMatch(n -> n.startsWith("head.")));
        assertEquals(new VitConfig(32, 2, 2, 8, 32, 128), Backbones.configOf(out, c.tensors(), c.heads()));
    }
}
