package dev.cvpt.verify;

import dev.cvpt.TestData;
import dev.cvpt.cli.Main;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every golden case of the PyTorch oracle, recomputed with each checkpoint format. */
class GoldenTest {

    static List<Path> checkpointsFor(Path defaultCkpt) {
        List<Path> out = new ArrayList<>(List.of(defaultCkpt));
        String base = defaultCkpt.getFileName().toString().replaceFirst("\\.npz$", "");
        for (String ext : List.of(".safetensors", ".pth")) {
            Path p = TestData.golden(base + ext);
            if (Files.exists(p)) out.add(p);
        }
        return out;
    }

    private static Stream<DynamicTest> cases(Path dir, boolean sharedCkpt) throws IOException {
        List<Path> cases;
        try (Stream<Path> s = Files.list(dir)) {
            cases = s.filter(p -> p.toString().endsWith(".json") && Files.exists(npz(p))).sorted().toList();
        }
        assertFalse(cases.isEmpty(), "no golden cases in " + dir);
        return cases.stream().flatMap(json -> {
            Path c = npz(json);
            Path ckpt = sharedCkpt ? GoldenCheck.defaultCheckpoint(c)
                    : TestData.golden(GoldenCheck.defaultCheckpoint(c).getFileName().toString());
            return checkpointsFor(ckpt).stream().map(k -> DynamicTest.dynamicTest(
                    c.getFileName() + " with " + k.getFileName(), () -> {
                        GoldenCheck.Result r = GoldenCheck.run(c, k);
                        assertTrue(r.passed(), "over tolerance: " + r.overTolerance() + " " + r.toJson());
                        assertTrue(r.entries().containsKey("logits") && r.entries().containsKey("loss_after"));
                        assertTrue(r.entries().keySet().stream().anyMatch(n -> n.startsWith("after/")));
                    }));
        });
    }

    private static Path npz(Path json) {
        return json.resolveSibling(json.getFileName().toString().replaceFirst("\\.json$", ".npz"));
    }

    @TestFactory
    Stream<DynamicTest> sharedGoldenCases() throws IOException {
        return cases(TestData.shared().resolve("golden"), true);
    }

    /** Cases made with the oracle for this project: other seeds, prompt counts 1..120, batch 1..8, classes 2..100. */
    @TestFactory
    Stream<DynamicTest> extraOracleCases() throws IOException {
        return cases(TestData.resource("golden-extra/e_linear.json").getParent(), false);
    }

    /** The check must be able to fail: the same case with the wrong insert position. */
    @Test
    void wrongInsertPositionFails(@TempDir Path tmp) throws IOException {
        Path c = copyCase(tmp, "cvpt_deep_insert3", s -> s.replace("\"insert\": 3", "\"insert\": 4"));
        GoldenCheck.Result r = GoldenCheck.run(c, TestData.golden("micro.safetensors"));
        assertFalse(r.passed());
        assertTrue(r.overTolerance().contains("logits"), r.overTolerance().toString());
        assertEquals(Main.FAILED, Main.execute("verify", c.toString(), "--checkpoint", TestData.golden("micro.safetensors").toString()));
    }

    /** A wrong weight decay changes every update: the gradient-conditioned rule for after/* must not hide it. */
    @Test
    void wrongWeightDecayFails(@TempDir Path tmp) throws IOException {
        Path c = copyCase(tmp, "full", s -> s.replace("\"wd\": 0.05", "\"wd\": 0.5"));
        GoldenCheck.Result r = GoldenCheck.run(c, TestData.golden("micro.npz"));
        assertFalse(r.passed());
        assertTrue(r.overTolerance().stream().anyMatch(n -> n.startsWith("after/")), r.overTolerance().toString());
        assertTrue(r.overTolerance().stream().noneMatch(n -> n.startsWith("grad/")));
    }

    @Test
    void exitCodes(@TempDir Path tmp) {
        assertEquals(Main.OK, Main.execute("verify", TestData.golden("linear.npz").toString()));
        assertEquals(Main.BAD_INPUT, Main.execute("verify", tmp.resolve("nope.npz").toString()));
        assertEquals(Main.BAD_INPUT, Main.execute("verify", TestData.golden("linear.npz").toString(),
                "--checkpoint", TestData.golden("mini224.npz").toString()));
    }

    /** A broken checkpoint ends with exit 2 and one line naming the file, never a crash. */
    @Test
    void brokenCheckpointIsBadInput(@TempDir Path tmp) throws IOException {
        byte[] pth = Files.readAllBytes(TestData.golden("micro.pth"));
        Path trunc = tmp.resolve("trunc.pth");
        Files.write(trunc, java.util.Arrays.copyOf(pth, pth.length / 3));
        var err = new java.io.ByteArrayOutputStream();
        var old = System.err;
        System.setErr(new java.io.PrintStream(err, true));
        int rc;
        try {
            rc = Main.execute("verify", TestData.golden("cvpt_deep_insert3.npz").toString(), "--checkpoint", trunc.toString());
        } finally {
            System.setErr(old);
        }
        assertEquals(Main.BAD_INPUT, rc);
        String msg = err.toString().strip();
        assertEquals(1, msg.lines().count(), msg);
        assertTrue(msg.contains("trunc.pth"), msg);
    }

    private static Path copyCase(Path dir, String name, java.util.function.UnaryOperator<String> edit) throws IOException {
        Path c = dir.resolve(name + ".npz");
        Files.copy(TestData.golden(name + ".npz"), c);
        Files.writeString(dir.resolve(name + ".json"), edit.apply(Files.readString(TestData.golden(name + ".json"))));
        return c;
    }
}
