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

/** Every golden case of the adapter methods (lora, adapter, adaptformer, dyt), and checks that must fail. */
class MethodGoldenTest {
    static final List<String> METHODS = List.of("lora", "adapter", "adaptformer", "dyt");

    static Path methods(String m) { return TestData.shared().resolve("golden/methods").resolve(m); }

    private static Stream<DynamicTest> cases(Path dir, boolean ownCkpt) throws IOException {
        List<Path> cases;
        try (Stream<Path> s = Files.list(dir)) {
            cases = s.filter(p -> p.toString().endsWith(".json") && Files.exists(npz(p))).sorted().toList();
        }
        assertFalse(cases.isEmpty(), "no cases in " + dir);
        return cases.stream().map(json -> DynamicTest.dynamicTest(dir.getFileName() + "/" + npz(json).getFileName(), () -> {
            Path c = npz(json);
            Path ckpt = ownCkpt ? GoldenCheck.defaultCheckpoint(c) : TestData.golden(GoldenCheck.defaultCheckpoint(c).getFileName().toString());
            GoldenCheck.Result r = GoldenCheck.run(c, ckpt);
            assertTrue(r.passed(), "over tolerance: " + r.overTolerance() + " " + r.toJson());
            for (String e : List.of("logits", "loss", "loss_after")) assertTrue(r.entries().containsKey(e), e);
            assertTrue(r.entries().keySet().stream().anyMatch(n -> n.startsWith("grad/")));
            assertTrue(r.entries().keySet().stream().anyMatch(n -> n.startsWith("after/")));
        }));
    }

    private static Path npz(Path json) {
        return json.resolveSibling(json.getFileName().toString().replaceFirst("\\.json$", ".npz"));
    }

    @TestFactory
    Stream<DynamicTest> sharedCases() {
        return METHODS.stream().flatMap(m -> {
            try {
                return cases(methods(m), true);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
    }

    /** Oracle cases with other options (targets k/kv/qv, float64, xavier init, LN in/out, learnable scale, dispatcher bias, rate target). */
    @TestFactory
    Stream<DynamicTest> extraOracleCases() throws IOException {
        return cases(TestData.resource("golden-methods-extra/x_lora_k_r2.json").getParent(), false);
    }

    /** The case's special entries are really compared. */
    @Test
    void specialEntriesAreCompared() {
        GoldenCheck.Result lora = GoldenCheck.run(methods("lora").resolve("lora_noah_init_merged.npz"), methods("lora").resolve("micro.npz"));
        assertTrue(lora.entries().containsKey("logits_merged") && lora.entries().containsKey("merged/blocks.0.attn.qkv.weight"));
        assertTrue(lora.entries().get("logits_merged").rel() < 1e-5, lora.toJson().toString());
        GoldenCheck.Result dyt = GoldenCheck.run(methods("dyt").resolve("dyt_train_r16_distill.npz"), methods("dyt").resolve("micro.npz"));
        for (String e : List.of("token_select", "token_logits", "loss_cls", "loss_flops", "loss_teacher", "loss_distill", "teacher_logits", "token_select_after"))
            assertTrue(dyt.entries().containsKey(e), e);
        assertEquals(0.0, dyt.entries().get("token_select").maxAbs());
        GoldenCheck.Result id = GoldenCheck.run(methods("adapter").resolve("adapter_zero_up_identity.npz"), methods("adapter").resolve("micro.npz"));
        assertTrue(id.entries().containsKey("logits_backbone"));
    }

    /** The checks can fail: a wrong option shows in the entries it changes. */
    @Test
    void wrongOptionsFail(@TempDir Path tmp) throws IOException {
        assertFails(copy(tmp, "lora", "lora_qv_r8_scale2", s -> s.replace("\"lora_scale\": 2.0", "\"lora_scale\": 1.0")), "logits");
        assertFails(copy(tmp, "adaptformer", "adaptformer_sequential", s -> s.replace("\"ffn_option\": \"sequential\"", "\"ffn_option\": \"parallel\"")), "logits");
        assertFails(copy(tmp, "dyt", "dyt_train_r4_nodistill_target03", s -> s.replace("\"flops_target\": 0.3", "\"flops_target\": 0.4")), "loss_flops");
        assertFails(copy(tmp, "dyt", "dyt_train_r16_distill", s -> s.replace("\"distill\": true", "\"distill\": false")), "loss");
        // without the given dropout masks the training-mode case is not reproduced
        assertFails(copy(tmp, "adapter", "adapter_train_noise", s -> s.replace("\"train_noise\": true", "\"train_noise\": false")), "logits");
    }

    @Test
    void exitCodes(@TempDir Path tmp) throws IOException {
        assertEquals(Main.OK, Main.execute("verify", methods("lora").resolve("lora_qkv_r4.npz").toString()));
        Path bad = copy(tmp, "lora", "lora_qkv_r4", s -> s.replace("\"lora_targets\": \"qkv\"", "\"lora_targets\": \"qxz\""));
        assertEquals(Main.BAD_INPUT, Main.execute("verify", bad.toString(), "--checkpoint", methods("lora").resolve("micro.npz").toString()));
    }

    private static void assertFails(Path c, String entry) {
        GoldenCheck.Result r = GoldenCheck.run(c, TestData.golden("micro.npz"));
        assertFalse(r.passed());
        assertTrue(r.overTolerance().contains(entry), r.overTolerance().toString());
    }

    private static Path copy(Path dir, String method, String name, UnaryOperator<String> edit) throws IOException {
        Path c = dir.resolve(name + ".npz");
        Files.copy(methods(method).resolve(name + ".npz"), c);
        Files.writeString(dir.resolve(name + ".json"), edit.apply(Files.readString(methods(method).resolve(name + ".json"))));
        return c;
    }
}
