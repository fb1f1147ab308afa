package dev.cvpt.model;

import dev.cvpt.bench.Bench;
import dev.cvpt.engine.Native;
import dev.cvpt.engine.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.bytedeco.pytorch.global.torch.manual_seed;
import static org.bytedeco.pytorch.global.torch.randn;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The speed-ups that the goldens do not reach (they run eval mode with one prompt set): the folded
 * cross-attention with per-sample prompts (training), and the cls-only last block, for every
 * insert position and method, against the plain computation.
 */
class FastPathsTest {

    private static VisionTransformer model(MethodSpec spec) {
        Native.load();
        VitConfig cfg = Bench.config("micro");
        return Backbones.assemble(new Backbones.Backbone(Path.of("random"), cfg, Bench.randomBackbone(cfg)), spec, 7);
    }

    private static double rel(Tensor a, Tensor b) {
        float[] x = Tensors.toFloats(a), y = Tensors.toFloats(b);
        double d = 0, s = 0;
        for (int i = 0; i < x.length; i++) {
            d = Math.max(d, Math.abs(x[i] - y[i]));
            s = Math.max(s, Math.abs(y[i]));
        }
        return d / s;
    }

    @Test
    void foldedCrossAttentionEqualsTheUnfoldedOne() {
        try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            manual_seed(1);
            VisionTransformer vit = model(MethodSpec.cvpt(3, 10));
            Tensor x = randn(3, 17, 64);
            for (long pb : new long[]{1, 3}) {
                Tensor p = randn(pb, 10, 64);
                for (int i = 0; i < 4; i++) {
                    double r = rel(vit.crossAttention(i, x, p), vit.crossAttentionReference(i, x, p));
                    assertTrue(r < 1e-5, "block " + i + " prompts " + pb + ": rel " + r);
                }
            }
        }
    }

    @Test
    void clsOnlyLastBlockEqualsRowZeroOfTheFullBlock() {
        MethodSpec[] specs = {
                MethodSpec.cvpt(1, 5), MethodSpec.cvpt(2, 5), MethodSpec.cvpt(3, 5), MethodSpec.cvpt(4, 5), MethodSpec.cvpt(5, 5),
                new MethodSpec("cvpt", 3, 5, false, 0.1), new MethodSpec("vpt", 3, 5, true, 0.1),
                new MethodSpec("vpt", 3, 5, false, 0.1), new MethodSpec("linear", 3, 5, true, 0.1)};
        for (MethodSpec spec : specs) {
            try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
                manual_seed(2);
                VisionTransformer vit = model(spec);
                vit.dropPathRate(0.1);
                Tensor img = randn(4, 3, 32, 32);
                Tensor x = vit.method().beforeBlocks(vit, vit.embed(img), false);
                int last = vit.config().depth() - 1;
                for (boolean training : new boolean[]{false, true}) {
                    manual_seed(3);
                    Tensor full = vit.runBlock(last, x, training, false).narrow(1, 0, 1);
                    manual_seed(3);   // the same dropout / drop-path draws
                    Tensor cls = vit.runBlock(last, x, training, true);
                    double r = rel(cls, full);
                    assertTrue(r < 1e-5, spec + " training " + training + ": rel " + r);
                }
            }
        }
    }

    /** Stochastic depth that skips the dropped samples' branch equals the mask-and-multiply form (values and gradients). */
    @Test
    void skippedDropPathEqualsMaskedDropPath() {
        try (PointerScope s = new PointerScope()) {
            manual_seed(4);
            VisionTransformer vit = model(new MethodSpec("linear", 3, 5, true, 0.1));
            vit.dropPathRate(0.6);   // block 3: rate 0.6, so some of the 8 samples drop, some stay
            Tensor x0 = randn(8, 17, 64);
            Tensor[] out = new Tensor[2], grad = new Tensor[2];
            for (int v = 0; v < 2; v++) {
                Tensor x = x0.clone();
                x.set_requires_grad(true);
                manual_seed(5);
                int i = 3;
                if (v == 0) {
                    out[v] = vit.block(i, x, true);
                } else {
                    Tensor y = x.add(vit.dropPath(i, vit.attnBranch(i, x), true));
                    out[v] = y.add(vit.dropPath(i, vit.mlpBranch(i, y), true));
                }
                out[v].pow(new org.bytedeco.pytorch.Scalar(2)).sum().backward();
                grad[v] = x.grad();
            }
            assertTrue(rel(out[0], out[1]) < 1e-6, "values: rel " + rel(out[0], out[1]));
            assertTrue(rel(grad[0], grad[1]) < 1e-5, "gradients: rel " + rel(grad[0], grad[1]));
        }
    }
}
