package dev.cvpt.model;

import dev.cvpt.bench.Bench;
import dev.cvpt.engine.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static dev.cvpt.engine.Tensors.scalar;
import static org.bytedeco.pytorch.global.torch.manual_seed;
import static org.bytedeco.pytorch.global.torch.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Model-level properties of the adapter methods that the goldens do not show. */
class AdapterModelTest {
    private static VisionTransformer model(MethodSpec spec) {
        VitConfig cfg = Bench.config("micro");
        return Backbones.assemble(new Backbones.Backbone(Path.of("random"), cfg, Bench.randomBackbone(cfg)), spec, 5);
    }

    /** DyT at inference gathers the kept tokens for the MLP: the same logits as the masked form, with tokens really dropped. */
    @Test
    void dytInferenceSkipsDroppedTokensWithTheSameResult() {
        try (PointerScope s = new PointerScope()) {
            manual_seed(3);
            VisionTransformer vit = model(new MethodSpec("dyt", 3, 1, true, 0).withOption("dyt-norm", "imagenet"));
            Dyt dyt = (Dyt) vit.method();
            try (NoGradGuard g = new NoGradGuard()) {   // a dispatcher that drops some tokens and keeps others, a live adapter
                for (var e : dyt.parameters().entrySet())
                    if (!e.getKey().endsWith("down_proj.weight")) e.getValue().copy_(randn(e.getValue().shape()).mul(scalar(0.3)));
            }
            Tensor x = randn(3, 3, 32, 32);
            Dyt.Forward masked = dyt.forward(vit, x, false, false, "", null);   // autograd on: every token through the MLP, gated
            Dyt.Forward gathered;
            try (NoGradGuard g = new NoGradGuard()) {
                gathered = dyt.forward(vit, x, false, false, "", null);
            }
            float[] a = Tensors.toFloats(masked.logits()), b = Tensors.toFloats(gathered.logits());
            double d = 0, sc = 0;
            for (int i = 0; i < a.length; i++) { d = Math.max(d, Math.abs(a[i] - b[i])); sc = Math.max(sc, Math.abs(a[i])); }
            assertTrue(d / sc < 1e-5, "rel " + d / sc);
            float[] ga = Tensors.toFloats(masked.tokenSelect()), gb = Tensors.toFloats(gathered.tokenSelect());
            double kept = 0;
            for (int i = 0; i < ga.length; i++) { assertEquals(ga[i], gb[i]); kept += gb[i]; }
            assertTrue(kept > 0 && kept < ga.length, "gates all equal: " + kept + "/" + ga.length);
        }
    }

    /** Stochastic depth: NOAH's adapter acts on the drop-path'ed MLP output, so a dropped sample still gets ln2(act(ln1.bias)). */
    @Test
    void adapterSeesTheDropPathedBranch() {
        try (PointerScope s = new PointerScope()) {
            manual_seed(5);
            VisionTransformer vit = model(new MethodSpec("adapter", 3, 1, true, 0).withOption("adapter-dropout", 0.0));
            try (NoGradGuard g = new NoGradGuard()) {
                vit.method().parameters().values().forEach(t -> t.copy_(randn(t.shape()).mul(scalar(0.2))));
            }
            Tensor y = randn(4, 17, 64);
            // drop-path rate 0.999 on block 3 (of 4): nearly every sample dropped
            vit.dropPathRate(0.999);
            BlockHooks h = vit.method().blockHooks(vit, 3, 4, true);
            try (NoGradGuard g = new NoGradGuard()) {
                Tensor m = vit.dropPathBranch(3, y, true, k -> vit.mlpBranch(3, VisionTransformer.rows(y, k)));
                Tensor out = h.mlpResidual(y, m);
                Tensor noAdapter = y.add(m);
                float[] a = Tensors.toFloats(out.sub(noAdapter).abs().max());
                assertTrue(a[0] > 1e-3, "the adapter's constant term is missing for dropped samples");
            }
        }
    }
}
