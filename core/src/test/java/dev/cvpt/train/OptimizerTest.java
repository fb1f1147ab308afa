package dev.cvpt.train;

import dev.cvpt.engine.Tensors;
import dev.cvpt.io.HostTensor;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Sgd and AdamW against torch.optim (1.13) on fixed gradients; weight-decay rules; schedules; state round trip. */
class OptimizerTest {
    static final float[][] G = {{0.1f, -0.2f, 0.3f}, {-0.05f, 0.4f, 0f}, {0.2f, 0.1f, -0.3f}};
    static final double[] LR = {0.1, 0.0, 0.2};

    private static Tensor param(float... v) {
        Tensor p = Tensors.fromFloats(v, v.length);
        p.set_requires_grad(true);
        return p;
    }

    private static float[] run(Optimizer o, Tensor p, int from, int to) {
        for (int s = from; s < to; s++) {
            p.mutable_grad().copy_(Tensors.fromFloats(G[s], 3));
            o.step(LR[s]);
        }
        return Tensors.toFloats(p);
    }

    private static Tensor withGrad(float... v) {
        Tensor p = param(v);
        p.sum().backward();   // allocates .grad
        return p;
    }

    @Test
    void sgdMatchesTorch() {
        // torch.optim.SGD([p], lr, momentum=0.9, dampening=0.1, weight_decay=0.01), lrs 0.1, 0.0, 0.2
        Tensor p = withGrad(0.5f, -1f, 2f);
        float[] got = run(new Sgd(Map.of("p", p), Map.of("p", 0.01), null, 0.9, 0.1, false), p, 0, 3);
        assertArrayEquals(new float[]{0.4429158866405487f, -1.024431824684143f, 1.9634294509887695f}, got, 1e-6f);
        // nesterov=True, dampening 0
        Tensor q = withGrad(0.5f, -1f, 2f);
        got = run(new Sgd(Map.of("q", q), Map.of("q", 0.01), null, 0.9, 0, true), q, 0, 3);
        assertArrayEquals(new float[]{0.3942391276359558f, -1.0270782709121704f, 1.9960335493087769f}, got, 1e-6f);
        // momentum 0.9, no decay
        Tensor r = withGrad(0.5f, -1f, 2f);
        got = run(new Sgd(Map.of("r", r), 0, 0.9), r, 0, 3);
        assertArrayEquals(new float[]{0.44280001521110535f, -1.0396000146865845f, 1.9814000129699707f}, got, 1e-6f);
    }

    @Test
    void sgdLrMultiplier() {
        Tensor p = withGrad(1f, 1f, 1f);
        p.mutable_grad().copy_(Tensors.fromFloats(new float[]{1, 2, 3}, 3));
        new Sgd(Map.of("p", p), Map.of(), Map.of("p", 0.5), 0.9, 0, false).step(0.1);
        assertArrayEquals(new float[]{0.95f, 0.9f, 0.85f}, Tensors.toFloats(p), 1e-7f);
    }

    @Test
    void sgdStateRoundTripContinuesExactly() {
        Tensor a = withGrad(0.5f, -1f, 2f), b = withGrad(0.5f, -1f, 2f);
        Sgd whole = new Sgd(Map.of("p", a), Map.of("p", 0.01), null, 0.9, 0.1, false);
        float[] ref = run(whole, a, 0, 3);
        Sgd first = new Sgd(Map.of("p", b), Map.of("p", 0.01), null, 0.9, 0.1, false);
        run(first, b, 0, 1);
        Map<String, HostTensor> saved = new LinkedHashMap<>();
        first.saveState(saved);
        assertEquals(java.util.Set.of("momentum_buffer/p"), saved.keySet());
        Sgd resumed = new Sgd(Map.of("p", b), Map.of("p", 0.01), null, 0.9, 0.1, false);
        resumed.loadState(Path.of("state"), saved, resumed.stateKinds());
        resumed.stepCount(first.stepCount());
        assertArrayEquals(ref, run(resumed, b, 1, 3), 0f);
        Map<String, HostTensor> wrong = Map.of("momentum_buffer/p", HostTensor.ofFloats(new float[2], 2));
        var e = assertThrows(dev.cvpt.io.CheckpointException.class, () -> resumed.loadState(Path.of("state"), wrong, "momentum_buffer"));
        assertEquals(true, e.getMessage().contains("momentum_buffer/p"), e.getMessage());
    }

    @Test
    void adamWGroupsMatchTorch() {
        // torch.optim.AdamW([{a, wd 0.5}, {b, wd 0}], lr 0.1), two steps
        Tensor a = withGrad(0.5f, -1f, 2f, 0.3f), b = withGrad(0.1f, -0.2f);
        Map<String, Tensor> ps = new LinkedHashMap<>();
        ps.put("a", a);
        ps.put("b", b);
        AdamW o = new AdamW(ps, Map.of("a", 0.5, "b", 0.0), null);
        float[][] ga = {{0.1f, -0.2f, 0.3f, 0f}, {-0.1f, 0.2f, 0.1f, 0.4f}}, gb = {{0.5f, -0.5f}, {0.1f, 0.2f}};
        for (int s = 0; s < 2; s++) {
            a.mutable_grad().copy_(Tensors.fromFloats(ga[s], 4));
            b.mutable_grad().copy_(Tensors.fromFloats(gb[s], 2));
            o.step(0.1);
        }
        assertArrayEquals(new float[]{0.3615131378173828f, -0.8127631545066833f, 1.6228935718536377f, 0.1963362991809845f},
                Tensors.toFloats(a), 1e-6f);
        assertArrayEquals(new float[]{-0.0803040936589241f, -0.06543943285942078f}, Tensors.toFloats(b), 1e-6f);
    }

    @Test
    void weightDecayRules() {
        assertEquals(0.1, WeightDecay.all(0.1).of("head.bias", 1));
        WeightDecay kmnp = new WeightDecay(WeightDecay.NO_HEAD_BIAS, 0.1, -1);
        assertEquals(0.0, kmnp.of("head.bias", 1));
        assertEquals(0.1, kmnp.of("prompt_soft_tokens_mask_cls_token", 1));
        WeightDecay spt = new WeightDecay(WeightDecay.NO_BIAS_1D, 0.01, 3.0);
        assertEquals(0.01, spt.of("prompt_token", 3));
        assertEquals(3.0, spt.of("head.weight", 2));
        assertEquals(0.0, spt.of("head.bias", 1));
        assertEquals(0.0, spt.of("blocks.0.norm.weight", 1));
        assertEquals(0.01, new WeightDecay(WeightDecay.NO_BIAS_1D, 0.01, -1).of("head.weight", 2));
        assertThrows(IllegalArgumentException.class, () -> new WeightDecay("none", 0.1, -1));
    }

    /** run.json holds the recipe with its optim; --resume reads it back (and old run.json without optim means CVPT's). */
    @Test
    void recipeJsonRoundTrip() throws Exception {
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        Recipe r = Recipe.official().withOptim(Recipe.Optim.spt(3.0)).withLr(5e-3);
        assertEquals(r, json.treeToValue(json.valueToTree(r), Recipe.class));
        var old = (com.fasterxml.jackson.databind.node.ObjectNode) json.valueToTree(Recipe.official());
        old.remove("optim");
        assertEquals(Recipe.official(), json.treeToValue(old, Recipe.class));
        assertEquals(Recipe.Optim.CVPT, Recipe.official().optim());
    }

    @Test
    void schedules() {
        LrSchedule k = LrSchedule.of(LrSchedule.KMNP, 1.0, 100, 10);
        assertEquals(0.0, k.at(0));
        assertEquals(0.5, k.at(5), 1e-15);
        assertEquals(1.0, k.at(10), 1e-15);
        assertEquals(0.5 * (1 + Math.cos(Math.PI * 45 / 90)), k.at(55), 1e-15);
        LrSchedule s = LrSchedule.of(LrSchedule.SPT, 1.0, 100, 10);
        assertEquals(0.0, s.at(0, 0, 4));
        assertEquals(0.025, s.at(0, 1, 4), 1e-15);   // fractional epoch 0.25 of 10 warmup epochs
        assertEquals(1e-8 + (1 - 1e-8) * 0.5 * (1 + Math.cos(Math.PI * 0.25 / 90)), s.at(10, 1, 4), 1e-15);
        assertEquals(Recipe.official().schedule(), LrSchedule.official(1e-3, 100, 10));
        Recipe r = Recipe.official().withOptim(Recipe.Optim.KMNP);
        assertEquals(true, r.optimizer(Map.of("head.bias", param(1f))) instanceof Sgd);
    }
}
