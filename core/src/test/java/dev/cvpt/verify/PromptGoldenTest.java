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
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every golden case of VFPT, E2VPT and SPT (shared/golden/methods/{vfpt,e2vpt,spt}) passes `cvpt verify`; the check can fail. */
class PromptGoldenTest {
    static Path dir(String method) { return TestData.shared().resolve("golden/methods").resolve(method); }

    @TestFactory
    Stream<DynamicTest> everyCase() throws IOException {
        List<Path> cases = new java.util.ArrayList<>();
        for (String m : List.of("vfpt", "e2vpt", "spt"))
            try (Stream<Path> s = Files.list(dir(m))) {
                List<Path> found = s.filter(p -> p.toString().endsWith(".json") && Files.exists(npz(p))).sorted().map(PromptGoldenTest::npz).toList();
                assertFalse(found.isEmpty(), "no golden cases in " + dir(m));
                cases.addAll(found);
            }
        return cases.stream().map(c -> DynamicTest.dynamicTest(c.getFileName().toString(), () -> {
            GoldenCheck.Result r = GoldenCheck.run(c, GoldenCheck.defaultCheckpoint(c));
            assertTrue(r.passed(), "over tolerance: " + r.overTolerance() + " " + r.toJson());
            assertTrue(r.entries().containsKey("logits") && r.entries().containsKey("loss_after"));
            assertTrue(r.entries().keySet().stream().anyMatch(n -> n.startsWith("after/")));
            assertTrue(r.entries().keySet().stream().anyMatch(n -> n.startsWith("grad/")));
        }));
    }

    @Test
    void cliExitsZero() {
        assertEquals(Main.OK, Main.execute("verify", dir("vfpt").resolve("vfpt_a70_append.npz").toString()));
    }

    /** fp32_noise: the float64 case's token-mask gradient is over 1e-4 in float32 and passes under 4 × its listed noise. */
    @Test
    void fp32NoiseWidensOnlyListedEntries() {
        GoldenCheck.Result r = GoldenCheck.run(dir("e2vpt").resolve("e2vpt_trainable_mask_f64.npz"), dir("e2vpt").resolve("micro.npz"));
        GoldenCheck.Entry e = r.entries().get("grad/prompt_soft_tokens_mask_cls_token");
        assertTrue(e.rel() > GoldenCheck.RTOL, "rel " + e.rel());
        assertEquals(4 * 0.0005600112680517949, e.tolerance(), 1e-12);
        assertEquals(GoldenCheck.RTOL, r.entries().get("logits").tolerance());   // 4 × 4e-7 < 1e-4
        assertTrue(r.passed(), r.overTolerance().toString());
    }

    @Test
    void wrongFourierLocationFails(@TempDir Path tmp) throws IOException {
        Path c = copyCase(tmp, "vfpt", "vfpt_a70_append", s -> s.replace("\"fourier_location\": \"append\"", "\"fourier_location\": \"prepend\""));
        GoldenCheck.Result r = GoldenCheck.run(c, dir("vfpt").resolve("micro.npz"));
        // the prompts carry no position, so the class token (and the logits) do not see their order: prompts/* do
        assertTrue(r.overTolerance().contains("prompts/0"), r.overTolerance().toString());
        assertFalse(r.overTolerance().contains("logits"), r.overTolerance().toString());
    }

    @Test
    void wrongMomentumFailsSecondStepOnly(@TempDir Path tmp) throws IOException {
        Path c = copyCase(tmp, "vfpt", "vfpt_a50_prepend", s -> s.replace("\"momentum\": 0.9", "\"momentum\": 0.5"));
        GoldenCheck.Result r = GoldenCheck.run(c, dir("vfpt").resolve("micro.npz"));
        assertTrue(r.overTolerance().stream().allMatch(n -> n.startsWith("after2/") || n.endsWith("_after2")), r.overTolerance().toString());
        assertTrue(r.overTolerance().contains("after2/prompt_embeddings"), r.overTolerance().toString());
    }

    @Test
    void missingInjectedDropoutFails(@TempDir Path tmp) throws IOException {
        // the same case evaluated without its noise: the training-mode forward differs
        Path c = copyCase(tmp, "e2vpt", "e2vpt_train_noise_mask", s -> s);
        var arrays = new java.util.LinkedHashMap<>(dev.cvpt.io.Npz.read(c));
        arrays.remove("noise/prompt_dropout");
        dev.cvpt.io.Npz.write(c, arrays);
        GoldenCheck.Result r = GoldenCheck.run(c, dir("e2vpt").resolve("micro.npz"));
        assertTrue(r.overTolerance().contains("logits"), r.overTolerance().toString());
    }

    @Test
    void wrongPoolingFails(@TempDir Path tmp) throws IOException {
        Path c = copyCase(tmp, "spt", "spt_mean_p4", s -> s.replace("\"spt_strategy\": \"mean_pooling\"", "\"spt_strategy\": \"max_pooling\""));
        GoldenCheck.Result r = GoldenCheck.run(c, dir("spt").resolve("micro.npz"));
        assertTrue(r.overTolerance().contains("init/prompt_token"), r.overTolerance().toString());
    }

    private static Path npz(Path json) {
        return json.resolveSibling(json.getFileName().toString().replaceFirst("\\.json$", ".npz"));
    }

    private static Path copyCase(Path tmp, String method, String name, UnaryOperator<String> edit) throws IOException {
        Path c = tmp.resolve(name + ".npz");
        Files.copy(dir(method).resolve(name + ".npz"), c);
        Files.copy(dir(method).resolve("micro.npz"), tmp.resolve("micro.npz"));
        Files.writeString(tmp.resolve(name + ".json"), edit.apply(Files.readString(dir(method).resolve(name + ".json"))));
        return c;
    }
}
