package dev.cvpt.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cvpt.TestData;
import dev.cvpt.bench.Bench;
import dev.cvpt.cli.Main;
import dev.cvpt.model.Backbones;
import dev.cvpt.model.MethodSpec;
import dev.cvpt.model.VisionTransformer;
import dev.cvpt.model.VitConfig;
import dev.cvpt.synth.SyntheticTasks;
import dev.cvpt.train.Steps;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.bytedeco.pytorch.global.torch.ScalarType;
import static org.bytedeco.pytorch.global.torch.manual_seed;
import static org.bytedeco.pytorch.global.torch.randint;
import static org.bytedeco.pytorch.global.torch.randn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Precision#BF16}: the frozen block linears run on bf16 copies of their weights (logits and
 * gradients near fp32's, but not equal: the bf16 route is really taken), trained backbones stay
 * fp32, and the CLI records the precision in run.json and the task file and keeps it on --resume.
 */
class PrecisionTest {
    @TempDir static Path tmp;

    @AfterEach
    void reset() {
        Precision.reset();
    }

    /** A micro ViT (64 wide) with a random backbone loaded in precision p, and its CVPT (same seed for every p). */
    private static VisionTransformer model(Precision p, String method) {
        Precision.use(p);
        manual_seed(7);
        VitConfig cfg = Bench.config("micro");
        var bb = new Backbones.Backbone(Path.of("random"), cfg, Bench.randomBackbone(cfg));
        return Backbones.assemble(bb, new MethodSpec(method, 3, 4, true, 0.1), 5);
    }

    /** Eval logits and the trainables' gradients of one training-mode forward/backward (drop-path 0, seeded masks). */
    private static Map<String, float[]> run(Precision p) {
        Map<String, float[]> out = new LinkedHashMap<>();
        try (PointerScope s = new PointerScope(); DataParallel dp = new DataParallel(1)) {
            VisionTransformer vit = model(p, "cvpt");
            assertEquals(p, vit.precision());
            manual_seed(3);
            Tensor images = randn(6, 3, 32, 32), labels = randint(5, new long[]{6});
            try (var g = new org.bytedeco.pytorch.NoGradGuard()) {
                out.put("logits", Tensors.toFloats(vit.forward(images, false)));
            }
            manual_seed(11);
            Steps.forwardBackward(dp, vit, images, labels);
            vit.trainableParameters().forEach((n, t) -> out.put("grad/" + n, Tensors.toFloats(t.grad())));
        }
        return out;
    }

    @Test
    void bf16IsNearFp32ButNotEqual() {
        Map<String, float[]> f32 = run(Precision.FP32), b16 = run(Precision.BF16);
        assertEquals(f32.keySet(), b16.keySet());
        for (String k : f32.keySet()) {
            double r = LinearTest.rel(b16.get(k), f32.get(k));
            // bf16 keeps 8 bits of mantissa (relative rounding 2^-9 = 2e-3 per product input)
            assertTrue(r < 3e-2, k + ": bf16 vs fp32 relative error " + r);
            assertTrue(r > 1e-5, k + ": bf16 equals fp32 (" + r + "): the bf16 route was not taken");
        }
    }

    /** bf16 inference on oneDNN's dense inner product (and the fused-GELU MLP) against ATen's bf16 linear. */
    @Test
    void bf16InferenceOnOneDnnMatchesTheAtenRoute() {
        Map<Linear.Backend, float[]> logits = new java.util.EnumMap<>(Linear.Backend.class);
        try {
            Linear.minRows = 1;   // the micro ViT's products are below oneDNN's thresholds otherwise
            Linear.minWidth = 1;
            for (Linear.Backend backend : new Linear.Backend[]{Linear.Backend.BLAS, Linear.Backend.ONEDNN}) {
                Linear.use(backend);
                try (PointerScope s = new PointerScope(); var g = new org.bytedeco.pytorch.NoGradGuard()) {
                    VisionTransformer vit = model(Precision.BF16, "cvpt");
                    manual_seed(3);
                    logits.put(backend, Tensors.toFloats(vit.forward(randn(6, 3, 32, 32), false)));
                }
            }
        } finally {
            Linear.minRows = Linear.MIN_ROWS;
            Linear.minWidth = Linear.MIN_WIDTH;
            Linear.use(Linear.Backend.AUTO);
        }
        double r = LinearTest.rel(logits.get(Linear.Backend.ONEDNN), logits.get(Linear.Backend.BLAS));
        // the same bf16 products; GELU rounds once after the fp32 accumulators instead of after fc1's bf16 output
        assertTrue(r < 2e-2, "oneDNN vs ATen bf16 route: relative " + r);
        assertTrue(r > 0, "the oneDNN route was not taken");
    }

    @Test
    void mixedTaskBatchesKeepTheBackbonesPrecision() {
        try (PointerScope s = new PointerScope(); var g = new org.bytedeco.pytorch.NoGradGuard()) {
            manual_seed(5);
            Tensor images = randn(4, 3, 32, 32);
            Map<Precision, float[]> alone = new LinkedHashMap<>();
            float[] mixed = null;
            for (Precision p : Precision.values()) {
                VisionTransformer a = model(p, "cvpt"), b = model(p, "linear");
                alone.put(p, Tensors.toFloats(a.forward(images.narrow(0, 0, 2), false)));
                if (p == Precision.BF16) {
                    var out = dev.cvpt.model.TaskGroups.forward(java.util.List.of(new dev.cvpt.model.TaskGroups.Group(a, 2),
                            new dev.cvpt.model.TaskGroups.Group(b, 2)), images);
                    mixed = Tensors.toFloats(out.get(0));
                }
            }
            double toBf16 = LinearTest.rel(mixed, alone.get(Precision.BF16)), toFp32 = LinearTest.rel(mixed, alone.get(Precision.FP32));
            assertTrue(toBf16 < 1e-4 && toFp32 > 1e-4, "a mixed bf16 batch: vs bf16 alone " + toBf16 + ", vs fp32 alone " + toFp32);
        }
    }

    @Test
    void onlyFrozenBlockLinearsGetBf16Copies() {
        Precision.use(Precision.BF16);
        VitConfig cfg = Bench.config("micro");
        var bb = new Backbones.Backbone(Path.of("random"), cfg, Bench.randomBackbone(cfg));
        assertEquals(4 * 4 * 2, bb.lowWeights().size(), "qkv, proj, fc1, fc2 weight and bias of 4 blocks");
        bb.lowWeights().forEach((n, t) -> {
            assertTrue(Tensors.is(t, ScalarType.BFloat16), n);
            assertTrue(n.matches("blocks\\.\\d\\.(attn\\.(qkv|proj)|mlp\\.fc[12])\\.(weight|bias)"), n);
        });
        // full fine-tuning trains the linears: fp32
        assertEquals(Precision.FP32, Backbones.assemble(bb, new MethodSpec("full", 3, 1, true, 0), 5).precision());
        assertEquals(Precision.BF16, Backbones.assemble(bb, new MethodSpec("linear", 3, 1, true, 0), 5).precision());
        Precision.use(Precision.FP32);
        assertEquals(0, new Backbones.Backbone(Path.of("random"), cfg, Bench.randomBackbone(cfg)).lowWeights().size());
    }

    @Test
    void parseNamesWhatWasWrong() {
        assertEquals(Precision.BF16, Precision.parse("BF16", "--precision"));
        assertEquals(Precision.FP32, Precision.parse(" fp32", "--precision"));
        var e = assertThrows(dev.cvpt.UserException.class, () -> Precision.parse("fp16", "--precision"));
        assertEquals("--precision: expected fp32 or bf16, got 'fp16'", e.getMessage());
    }

    @Test
    void scalarTypesCompareByValue() {
        // the presets hand back ScalarType instances that are not the enum constants: == is always false
        Tensor l = randint(5, new long[]{3});
        assertTrue(Tensors.is(l, ScalarType.Long));
        assertArrayEquals(Tensors.toLongs(l), Tensors.toHost(l).toLongs(), "a Long tensor goes to the host as longs");
    }

    @Test
    void cliRecordsAndKeepsThePrecision() throws Exception {
        Path data = SyntheticTasks.write(tmp, "disk", 32, 3, 96, 0, 64, 2);
        Path run = tmp.resolve("bf16run");
        String[] train = {"train", "--data", data.toString(), "--checkpoint", TestData.golden("micro.npz").toString(), "--out", run.toString(),
                "--method", "cvpt", "--prompts", "4", "--epochs", "2", "--warmup", "0", "--lr", "5e-3", "--eval-every", "1", "--threads", "1", "--no-progress", "--precision", "bf16"};
        assertEquals(Main.OK, Main.execute(train));
        assertEquals("bf16", json(run.resolve("run.json")).path("precision").asText());
        assertEquals("bf16", json(run.resolve("disk.json")).path("precision").asText());
        assertEquals(Precision.FP32, Precision.current(), "each in-process command starts from the default");

        // a resumed run keeps its precision; asking for another one is a one-line error
        assertEquals(Main.BAD_INPUT, Main.execute("train", "--resume", run.toString(), "--precision", "fp32", "--no-progress"));
        assertEquals(Main.BAD_INPUT, Main.execute("train", "--data", data.toString(), "--checkpoint", TestData.golden("micro.npz").toString(),
                "--out", tmp.resolve("full").toString(), "--method", "full", "--epochs", "1", "--no-progress", "--precision", "bf16"));
        assertEquals(Main.BAD_INPUT, Main.execute("eval", "--data", data.toString(), "--task", run.resolve("disk.safetensors").toString(),
                "--precision", "half"));

        // a corrupt precision field in run.json is a user error (exit 2) naming the file, not a failure
        Path runJson = run.resolve("run.json");
        String good = java.nio.file.Files.readString(runJson);
        java.nio.file.Files.writeString(runJson, good.replace("\"precision\" : \"bf16\"", "\"precision\" : \"fp8\"").replace("\"precision\":\"bf16\"", "\"precision\":\"fp8\""));
        assertEquals("fp8", json(runJson).path("precision").asText(), "the test corrupted the field");
        assertEquals(Main.BAD_INPUT, Main.execute("train", "--resume", run.toString(), "--no-progress"));
        java.nio.file.Files.writeString(runJson, good);

        // the task evaluates in both precisions (a bf16-trained task may be served in fp32 and back)
        for (String p : new String[]{"fp32", "bf16"}) {
            JsonNode e = evalJson(data, run.resolve("disk.safetensors"), p);
            assertTrue(e.path("test_top1").asDouble() >= 0, p + ": " + e);
        }
    }

    @Test
    void pruningABf16RunRetrainsInBf16() throws Exception {
        Path data = SyntheticTasks.write(tmp.resolve("with-val"), "disk", 32, 3, 48, 24, 24, 2);   // prune selects on val200
        Path run = tmp.resolve("e2vpt"), out = tmp.resolve("pruned");
        assertEquals(Main.OK, Main.execute("train", "--data", data.toString(), "--checkpoint", TestData.golden("micro.npz").toString(),
                "--out", run.toString(), "--method", "e2vpt", "--mask", "trainable", "--select-on-val", "--prompts", "4", "--epochs", "1",
                "--warmup", "0", "--threads", "1", "--no-progress", "--precision", "bf16"));
        assertEquals(Main.OK, Main.execute("prune", "--run", run.toString(), "--out", out.toString(), "--token-counts", "1",
                "--piece-counts", "1", "--rewind-epochs", "1", "--threads", "1", "--no-progress"));
        assertEquals("bf16", json(out.resolve("rewind/t1_p1/run.json")).path("precision").asText());
        assertEquals("bf16", json(out.resolve("final/run.json")).path("precision").asText());
        assertEquals(Precision.FP32, Precision.current());
    }

    private static JsonNode evalJson(Path data, Path task, String precision) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream old = System.out;
        System.setOut(new PrintStream(out, true));
        try {
            assertEquals(Main.OK, Main.execute("eval", "--data", data.toString(), "--task", task.toString(), "--threads", "1",
                    "--precision", precision));
        } finally {
            System.setOut(old);
        }
        return new ObjectMapper().readTree(out.toString());
    }

    private static JsonNode json(Path p) throws Exception { return new ObjectMapper().readTree(Files.readString(p)); }
}
