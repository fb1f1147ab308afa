package dev.cvpt.engine;

import dev.cvpt.bench.Bench;
import dev.cvpt.model.Backbones;
import dev.cvpt.model.MethodSpec;
import dev.cvpt.model.VisionTransformer;
import dev.cvpt.model.VitConfig;
import dev.cvpt.train.Steps;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.bytedeco.pytorch.global.torch.cross_entropy;
import static org.bytedeco.pytorch.global.torch.manual_seed;
import static org.bytedeco.pytorch.global.torch.randint;
import static org.bytedeco.pytorch.global.torch.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The oneDNN routes of {@link Linear} (direct forward, and the hooked input gradient, for weights
 * wider, narrower and as wide as their input: fc1, fc2, proj) against torch::linear on OpenBLAS, on
 * the micro ViT with the row threshold lowered so that every frozen linear takes them.
 */
class LinearTest {

    @AfterEach
    void reset() {
        Linear.minRows = Linear.MIN_ROWS;
        Linear.minWidth = Linear.MIN_WIDTH;
        Linear.use(Linear.Backend.AUTO);
    }

    private static VisionTransformer model(MethodSpec spec) {
        manual_seed(7);
        VitConfig cfg = Bench.config("micro");
        VisionTransformer vit = Backbones.assemble(new Backbones.Backbone(Path.of("random"), cfg, Bench.randomBackbone(cfg)), spec, 5);
        vit.freeze();
        return vit;
    }

    /** Logits and the trainables' gradients of one forward/backward (eval mode: no random masks). */
    private static Map<String, float[]> step(Linear.Backend backend, boolean hooks, MethodSpec spec) {
        Linear.use(backend);
        Linear.minRows = 1;
        Linear.minWidth = 1;
        Map<String, float[]> out = new LinkedHashMap<>();
        try (PointerScope s = new PointerScope()) {
            VisionTransformer vit = model(spec);
            Tensor images = randn(3, 3, 32, 32), labels = randint(5, new long[]{3});
            Linear.GradHooks h = hooks ? Linear.gradHooks() : null;
            try {
                Tensor logits = vit.forward(images, false);
                cross_entropy(logits, labels).backward();
                out.put("logits", Tensors.toFloats(logits.detach()));
            } finally {
                if (h != null) h.close();
            }
            vit.trainableParameters().forEach((n, t) -> out.put("grad/" + n, Tensors.toFloats(t.grad())));
        }
        return out;
    }

    /** max |x − y| / max |y|. */
    static double rel(float[] x, float[] y) {
        double d = 0, s = 0;
        for (int i = 0; i < x.length; i++) {
            d = Math.max(d, Math.abs(x[i] - y[i]));
            s = Math.max(s, Math.abs(y[i]));
        }
        return d / s;
    }

    private static void assertClose(Map<String, float[]> got, Map<String, float[]> want, double tol, String what) {
        assertEquals(want.keySet(), got.keySet());
        want.forEach((k, v) -> {
            double r = rel(got.get(k), v);
            assertTrue(r < tol, what + " " + k + ": rel " + r);
        });
    }

    @Test
    void oneDnnForwardAndHookedGradientsMatchOpenBlas() {
        for (MethodSpec spec : new MethodSpec[]{MethodSpec.cvpt(3, 10), new MethodSpec("vpt", 3, 5, true, 0.1),
                new MethodSpec("linear", 3, 5, true, 0.1)}) {
            Map<String, float[]> blas = step(Linear.Backend.BLAS, false, spec);
            assertClose(step(Linear.Backend.ONEDNN, true, spec), blas, 1e-4, spec.method() + " hooked");
            // without an open GradHooks scope the gradient path falls back to torch::linear
            assertClose(step(Linear.Backend.ONEDNN, false, spec), blas, 1e-4, spec.method() + " unhooked");
        }
    }

    @Test
    void hooksReplaceTheGradientInsteadOfAddingToIt() {
        // a wrong route would give g·W plus the zero term's own gradient, or nothing: compare magnitudes exactly
        Map<String, float[]> blas = step(Linear.Backend.BLAS, false, MethodSpec.cvpt(1, 4));
        Map<String, float[]> dnn = step(Linear.Backend.ONEDNN, true, MethodSpec.cvpt(1, 4));
        float[] a = blas.get("grad/Prompt_Tokens"), b = dnn.get("grad/Prompt_Tokens");
        double na = 0, nb = 0;
        for (int i = 0; i < a.length; i++) {
            na += a[i] * a[i];
            nb += b[i] * b[i];
        }
        assertTrue(na > 0, "the prompts get a gradient");
        assertEquals(1.0, Math.sqrt(nb / na), 1e-4);
    }

    @Test
    void trainingStepsAgreeAndFullFineTuningStaysOnTorchLinear() {
        Map<String, Map<String, float[]>> runs = new LinkedHashMap<>();
        for (Linear.Backend backend : new Linear.Backend[]{Linear.Backend.BLAS, Linear.Backend.ONEDNN}) {
            for (MethodSpec spec : new MethodSpec[]{MethodSpec.cvpt(3, 10), new MethodSpec("full", 3, 5, true, 0.1)}) {
                Linear.use(backend);
                Linear.minRows = 1;
        Linear.minWidth = 1;
                Map<String, float[]> out = new LinkedHashMap<>();
                try (PointerScope s = new PointerScope(); DataParallel dp = new DataParallel(1)) {
                    VisionTransformer vit = model(spec);
                    vit.dropPathRate(0.1);
                    manual_seed(3);
                    Tensor images = randn(4, 3, 32, 32), labels = randint(5, new long[]{4});
                    Steps.forwardBackward(dp, vit, images, labels);   // training mode: prompt dropout, drop-path
                    vit.trainableParameters().forEach((n, t) -> out.put(n, Tensors.toFloats(t.grad())));
                }
                runs.put(backend + "/" + spec.method(), out);
            }
        }
        assertClose(runs.get("ONEDNN/cvpt"), runs.get("BLAS/cvpt"), 1e-4, "training step");
        // trainable weights need their own gradient: same route, same bits
        Map<String, float[]> blasFull = runs.get("BLAS/full"), dnnFull = runs.get("ONEDNN/full");
        blasFull.forEach((n, v) -> assertEquals(0.0, rel(dnnFull.get(n), v), n));
    }

    @Test
    void aBadBackendSettingIsNamed() {
        System.setProperty("cvpt.gemm", "fast");
        try {
            dev.cvpt.UserException e = org.junit.jupiter.api.Assertions.assertThrows(dev.cvpt.UserException.class,
                    () -> Linear.use(Linear.configured()));
            assertTrue(e.getMessage().contains("cvpt.gemm") && e.getMessage().contains("fast"), e.getMessage());
        } finally {
            System.clearProperty("cvpt.gemm");
        }
    }
}
