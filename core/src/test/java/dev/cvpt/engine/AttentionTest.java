package dev.cvpt.engine;

import dev.cvpt.bench.Bench;
import dev.cvpt.model.Backbones;
import dev.cvpt.model.MethodSpec;
import dev.cvpt.model.VisionTransformer;
import dev.cvpt.model.VitConfig;
import dev.cvpt.train.Steps;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.bytedeco.pytorch.global.torch.get_num_threads;
import static org.bytedeco.pytorch.global.torch.manual_seed;
import static org.bytedeco.pytorch.global.torch.randint;
import static org.bytedeco.pytorch.global.torch.randn;
import static org.bytedeco.pytorch.global.torch.scaled_dot_product_attention;
import static org.bytedeco.pytorch.global.torch.set_num_threads;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Our self-attention kernel ({@link Attention}) against libtorch's fused one: values and qkv
 * gradients for token counts around the kernel's 4-row and 16-column padding, and a training step
 * of a ViT with heads of 64. Runs where the kernel does (the test JVM adds the Vector API module;
 * the CPU needs 512-bit vectors).
 */
class AttentionTest {

    @AfterEach
    void reset() {
        System.clearProperty("cvpt.attention");
        Attention.force(null);
    }

    /** libtorch's attention of packed qkv [B, N, 3·C] → [B, N, C]. */
    private static Tensor reference(Tensor qkv, int heads) {
        long b = qkv.size(0), n = qkv.size(1), c = qkv.size(2) / 3;
        Tensor p = qkv.view(b, n, 3, heads, c / heads).permute(2, 0, 3, 1, 4);
        return scaled_dot_product_attention(p.select(0, 0), p.select(0, 1), p.select(0, 2)).transpose(1, 2).reshape(b, n, c);
    }

    @Test
    void valuesAndGradientsMatchLibtorch() {
        Native.load();
        assumeTrue(Attention.enabled(), "the Vector API kernel does not run on this JVM/CPU");
        int[][] shapes = {{2, 197, 2}, {3, 17, 1}, {1, 50, 3}, {2, 16, 2}, {1, 4, 1}, {2, 33, 1}};
        int threads = get_num_threads();
        try {
            for (int t : new int[]{1, 2}) {
                set_num_threads(t);   // one thread: sample by sample on this one; two: samples in parallel
                for (int[] sh : shapes) check(sh, t);
            }
        } finally {
            set_num_threads(threads);
        }
    }

    private static void check(int[] sh, int threads) {
        try (PointerScope s = new PointerScope()) {
            manual_seed(sh[1]);
            Tensor x = randn(sh[0], sh[1], 3L * 64 * sh[2]).mul(new org.bytedeco.pytorch.Scalar(2.0));
            Tensor r = randn(sh[0], sh[1], 64L * sh[2]);
            Tensor q1 = x.clone().set_requires_grad(true), q2 = x.clone().set_requires_grad(true);
            Tensor o1;
            long before = Attention.CALLS.sum();
            try (Linear.GradHooks h = Linear.gradHooks()) {
                o1 = Attention.selfAttention(q1, sh[2]);
                o1.mul(r).sum().backward();
            }
            assertEquals(before + 1, Attention.CALLS.sum(), "the kernel ran");
            Tensor o2 = reference(q2, sh[2]);
            o2.mul(r).sum().backward();
            String what = java.util.Arrays.toString(sh) + " threads " + threads;
            assertTrue(LinearTest.rel(Tensors.toFloats(o1.detach()), Tensors.toFloats(o2.detach())) < 1e-5, what + " values");
            assertTrue(LinearTest.rel(Tensors.toFloats(q1.grad()), Tensors.toFloats(q2.grad())) < 1e-5, what + " gradients");
            try (NoGradGuard g = new NoGradGuard()) {
                assertTrue(LinearTest.rel(Tensors.toFloats(Attention.selfAttention(x, sh[2])), Tensors.toFloats(o2.detach())) < 1e-5, what + " no grad");
            }
        }
    }

    @Test
    void declinesWhatItDoesNotCover() {
        Native.load();
        try (PointerScope s = new PointerScope()) {
            assertNull(Attention.selfAttention(randn(2, 17, 3 * 96), 3), "heads of 32");
            Tensor x = randn(2, 17, 3 * 64).set_requires_grad(true);
            assertNull(Attention.selfAttention(x, 1), "a gradient wanted outside a hook scope");
            System.setProperty("cvpt.attention", "torch");
            Attention.force(null);
            assertFalse(Attention.enabled());
            assertEquals("torch", Attention.backendName());
            assertNull(Attention.selfAttention(randn(2, 17, 3 * 64), 1), "switched off");
            System.setProperty("cvpt.attention", "fast");
            Attention.force(null);
            dev.cvpt.UserException e = org.junit.jupiter.api.Assertions.assertThrows(dev.cvpt.UserException.class, Attention::enabled);
            assertTrue(e.getMessage().contains("CVPT_ATTENTION") && e.getMessage().contains("'fast'"), e.getMessage());
        }
    }

    /** A CVPT training step (prompt dropout, drop-path) of a ViT with heads of 64: kernel on and off. */
    @Test
    void trainingStepAgreesWithLibtorchAttention() {
        Native.load();
        assumeTrue(Attention.enabled(), "the Vector API kernel does not run on this JVM/CPU");
        Map<Boolean, Map<String, float[]>> runs = new LinkedHashMap<>();
        for (boolean on : new boolean[]{false, true}) {
            Attention.force(on);
            long before = Attention.CALLS.sum();
            Map<String, float[]> out = new LinkedHashMap<>();
            try (PointerScope s = new PointerScope(); DataParallel dp = new DataParallel(1)) {
                manual_seed(7);
                VitConfig cfg = new VitConfig(128, 2, 2, 8, 32, 256);
                VisionTransformer vit = Backbones.assemble(new Backbones.Backbone(Path.of("random"), cfg, Bench.randomBackbone(cfg)), MethodSpec.cvpt(2, 10), 5);
                vit.freeze();
                vit.dropPathRate(0.1);
                manual_seed(3);
                Tensor images = randn(4, 3, 32, 32), labels = randint(5, new long[]{4});
                out.put("loss", new float[]{(float) Steps.forwardBackward(dp, vit, images, labels).loss()});
                vit.trainableParameters().forEach((n, t) -> out.put(n, Tensors.toFloats(t.grad())));
            }
            assertEquals(on, Attention.CALLS.sum() > before, "kernel " + (on ? "used" : "unused"));
            runs.put(on, out);
        }
        runs.get(false).forEach((n, v) -> assertTrue(LinearTest.rel(runs.get(true).get(n), v) < 1e-4, n + ": rel " + LinearTest.rel(runs.get(true).get(n), v)));
    }
}
