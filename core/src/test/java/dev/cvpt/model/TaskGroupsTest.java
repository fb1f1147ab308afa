package dev.cvpt.model;

import dev.cvpt.bench.Bench;
import dev.cvpt.engine.Native;
import dev.cvpt.engine.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.bytedeco.pytorch.global.torch.manual_seed;
import static org.bytedeco.pytorch.global.torch.randn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Cross-task batching: one forward over rows of several tasks (frozen parts once, each task's hooks
 * on its rows) gives each task the logits of its own forward; the prompt cache changes nothing but
 * the work done.
 */
class TaskGroupsTest {

    private static double maxAbs(Tensor a, Tensor b) {
        float[] x = Tensors.toFloats(a), y = Tensors.toFloats(b);
        assertEquals(x.length, y.length);
        double d = 0;
        for (int i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i] - y[i]));
        return d;
    }

    @Test
    void mixedBatchEqualsEachTaskAlone() {
        Native.load();
        try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            manual_seed(3);
            VitConfig cfg = Bench.config("micro");
            Backbones.Backbone bb = new Backbones.Backbone(Path.of("random"), cfg, Bench.randomBackbone(cfg));
            // every CVPT insert (4: its own MLP per group; the others share one MLP over all rows), a shallow
            // CVPT and the linear probe: same token count, one signature
            List<VisionTransformer> same = new ArrayList<>();
            for (int insert = 1; insert <= 5; insert++) same.add(Backbones.assemble(bb, MethodSpec.cvpt(insert, 4), 3 + insert));
            same.add(Backbones.assemble(bb, new MethodSpec("cvpt", 2, 6, false, 0.1), 5));
            same.add(Backbones.assemble(bb, new MethodSpec("linear", 3, 1, true, 0.1), 4));
            // deep VPT with 4 prompts twice: a signature of their own
            List<VisionTransformer> vpt = List.of(Backbones.assemble(bb, new MethodSpec("vpt", 3, 4, true, 0.1), 3),
                    Backbones.assemble(bb, new MethodSpec("vpt", 3, 4, true, 0.1), 6));
            String sig = TaskGroups.signature(same.get(0));
            for (VisionTransformer v : same) assertEquals(sig, TaskGroups.signature(v));
            assertEquals(TaskGroups.signature(vpt.get(0)), TaskGroups.signature(vpt.get(1)));
            assertNotEquals(sig, TaskGroups.signature(vpt.get(0)));

            for (List<VisionTransformer> models : List.of(same, vpt)) {
                int[] rows = new int[models.size()];
                List<TaskGroups.Group> groups = new ArrayList<>();
                int total = 0;
                for (int j = 0; j < models.size(); j++) {
                    rows[j] = 1 + j % 3;
                    groups.add(new TaskGroups.Group(models.get(j), rows[j]));
                    total += rows[j];
                }
                Tensor x = randn(total, 3, cfg.img(), cfg.img());
                List<Tensor> mixed = TaskGroups.forward(groups, x);
                int off = 0;
                for (int j = 0; j < models.size(); j++) {
                    Tensor alone = models.get(j).forward(x.narrow(0, off, rows[j]), false);
                    assertArrayEquals(alone.shape(), mixed.get(j).shape());
                    double d = maxAbs(mixed.get(j), alone);
                    assertTrue(d < 1e-5, models.get(j).method().name() + " group " + j + ": max |diff| " + d);
                    off += rows[j];
                }
            }
            // CVPT and deep VPT rows cannot share one tensor (65 vs 69 tokens)
            Tensor x = randn(2, 3, cfg.img(), cfg.img());
            assertThrows(RuntimeException.class, () -> TaskGroups.forward(
                    List.of(new TaskGroups.Group(same.get(0), 1), new TaskGroups.Group(vpt.get(0), 1)), x));
        }
    }

    /**
     * Every method of the related work in a mixed batch: with CVPT rows where their signatures are
     * equal (the adapter methods keep the token count), else with a second task of the same method.
     */
    @Test
    void everyMethodMixesAndEqualsItselfAlone() {
        Native.load();
        try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            manual_seed(5);
            VitConfig cfg = Bench.config("micro");
            Backbones.Backbone bb = new Backbones.Backbone(Path.of("random"), cfg, Bench.randomBackbone(cfg));
            VisionTransformer cvpt = Backbones.assemble(bb, MethodSpec.cvpt(3, 4), 3);
            String cvptSig = TaskGroups.signature(cvpt);
            int mixedWithCvpt = 0;
            for (String m : List.of("lora", "adapter", "adaptformer", "dyt", "vfpt", "e2vpt", "spt")) {
                VisionTransformer a = Backbones.assemble(bb, new MethodSpec(m, 3, 4, true, 0.1), 4);
                VisionTransformer b = Backbones.assemble(bb, new MethodSpec(m, 3, 4, true, 0.1), 5);
                for (String name : List.of("head.weight")) { a.param(name).normal_(); b.param(name).normal_(); }
                a.method().parameters().values().forEach(t -> t.add_(randn(t.shape()).mul(Tensors.scalar(0.1))));
                b.method().parameters().values().forEach(t -> t.add_(randn(t.shape()).mul(Tensors.scalar(0.1))));
                VisionTransformer other = TaskGroups.signature(a).equals(cvptSig) ? cvpt : b;
                if (other == cvpt) mixedWithCvpt++;
                List<VisionTransformer> models = List.of(a, other, a);
                int[] rows = {2, 1, 1};
                List<TaskGroups.Group> groups = new ArrayList<>();
                for (int j = 0; j < 3; j++) groups.add(new TaskGroups.Group(models.get(j), rows[j]));
                Tensor x = randn(4, 3, cfg.img(), cfg.img());
                List<Tensor> mixed = TaskGroups.forward(groups, x);
                int off = 0;
                for (int j = 0; j < 3; j++) {
                    Tensor alone = models.get(j).forward(x.narrow(0, off, rows[j]), false);
                    double d = maxAbs(mixed.get(j), alone) / Math.max(1, alone.abs().max().item_double());   // heads ~N(0,1): logits ~10
                    assertTrue(d < 1e-5, m + " group " + j + " (" + models.get(j).method().name() + "): rel " + d);
                    off += rows[j];
                }
            }
            assertTrue(mixedWithCvpt >= 3, "the adapter methods share CVPT's signature: " + mixedWithCvpt);
        }
    }

    /**
     * Tasks whose block hooks are {@link BlockHooks#batchable} with one key (CVPT of one insert and
     * prompt count, deep or shallow, cached or not) run one gathered cross-attention for all their
     * rows (rows of hook-less tasks such as the linear probe get none); each task still gets its own
     * forward's logits. Mixes with a task whose hooks are not batchable (LoRA) or of another key
     * (another prompt count) go per group and are equal too.
     */
    @Test
    void batchedPromptSetsEqualEachTaskAlone() {
        Native.load();
        try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            manual_seed(7);
            VitConfig cfg = Bench.config("micro");
            Backbones.Backbone bb = new Backbones.Backbone(Path.of("random"), cfg, Bench.randomBackbone(cfg));
            VisionTransformer linear = Backbones.assemble(bb, new MethodSpec("linear", 3, 1, true, 0.1), 4);
            VisionTransformer lora = Backbones.assemble(bb, new MethodSpec("lora", 3, 4, true, 0.1), 5);
            lora.method().parameters().values().forEach(t -> t.add_(randn(t.shape()).mul(Tensors.scalar(0.1))));
            for (int insert = 1; insert <= 5; insert++) {
                VisionTransformer deepA = Backbones.assemble(bb, MethodSpec.cvpt(insert, 4), 3);
                VisionTransformer deepB = Backbones.assemble(bb, MethodSpec.cvpt(insert, 4), 6);
                VisionTransformer shallow = Backbones.assemble(bb, new MethodSpec("cvpt", insert, 4, false, 0.1), 5);
                VisionTransformer otherP = Backbones.assemble(bb, MethodSpec.cvpt(insert, 6), 4);
                deepB.cachePrompts(true);   // cached and uncached sets gather alike
                for (VisionTransformer v : List.of(deepA, deepB, shallow, otherP)) v.param("head.weight").normal_();

                // the hooks of one block: batchable, with one key for one insert and prompt count
                BlockHooks.Batchable a = deepA.method().blockHooks(deepA, 1, 2, false).batchable();
                BlockHooks.Batchable b = shallow.method().blockHooks(shallow, 1, 1, false).batchable();
                assertTrue(a != null && b != null, "insert " + insert + ": CVPT's eval hooks are batchable");
                assertEquals(a.key(), b.key());
                assertNotEquals(a.key(), otherP.method().blockHooks(otherP, 1, 1, false).batchable().key());
                assertEquals(null, deepA.method().blockHooks(deepA, 1, 2, true).batchable(), "training: per-row prompt dropout");

                // the merged hook on one block equals each group's own hook on its rows
                Tensor x = randn(5, 1 + (long) (cfg.img() / cfg.patch()) * (cfg.img() / cfg.patch()), cfg.dim());
                List<VisionTransformer> models = List.of(deepA, linear, shallow, deepB);
                long[] rows = {2, 1, 1, 1};
                List<BlockHooks.Batchable> parts = new ArrayList<>();
                for (int j = 0; j < models.size(); j++)
                    parts.add(models.get(j).method().blockHooks(models.get(j), 1, rows[j], false).batchable());
                BlockHooks merged = a.merge(parts, rows);
                Tensor all = deepA.block(1, x, false, merged);
                long off = 0;
                for (int j = 0; j < models.size(); j++) {
                    VisionTransformer m = models.get(j);
                    Tensor own = m.block(1, x.narrow(0, off, rows[j]), false, m.method().blockHooks(m, 1, rows[j], false));
                    double d = maxAbs(all.narrow(0, off, rows[j]), own);
                    assertTrue(d < 1e-5, "insert " + insert + " block group " + j + ": max |diff| " + d);
                    off += rows[j];
                }

                // whole forwards: batched (CVPT + linear probe), and per group (with LoRA; with another prompt count)
                for (List<VisionTransformer> mix : List.of(List.of(deepA, linear, shallow, deepB),
                        List.of(deepA, lora, deepB), List.of(deepA, otherP, shallow))) {
                    List<TaskGroups.Group> groups = new ArrayList<>();
                    int total = 0;
                    for (int j = 0; j < mix.size(); j++) {
                        groups.add(new TaskGroups.Group(mix.get(j), 1 + j % 3));
                        total += 1 + j % 3;
                    }
                    Tensor images = randn(total, 3, cfg.img(), cfg.img());
                    List<Tensor> out = TaskGroups.forward(groups, images);
                    int o = 0;
                    for (int j = 0; j < mix.size(); j++) {
                        Tensor alone = mix.get(j).forward(images.narrow(0, o, 1 + j % 3), false);
                        double d = maxAbs(out.get(j), alone) / Math.max(1, alone.abs().max().item_double());
                        assertTrue(d < 1e-5, "insert " + insert + " " + mix.get(j).method().name() + " group " + j + ": rel " + d);
                        o += 1 + j % 3;
                    }
                }
                deepB.cachePrompts(false);
            }
        }
    }

    @Test
    void promptCacheGivesTheSameLogitsAndFreesItsBytes() {
        Native.load();
        try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            manual_seed(4);
            VitConfig cfg = Bench.config("micro");
            Backbones.Backbone bb = new Backbones.Backbone(Path.of("random"), cfg, Bench.randomBackbone(cfg));
            VisionTransformer vit = Backbones.assemble(bb, MethodSpec.cvpt(3, 5), 4);
            Tensor x = randn(3, 3, cfg.img(), cfg.img());
            float[] plain = Tensors.toFloats(vit.forward(x, false));
            vit.cachePrompts(true);
            assertEquals(0, vit.cachedPromptBytes());
            float[] first = Tensors.toFloats(vit.forward(x, false));
            // per block: A [1,C,h·P], c [1,1,h·P], Vo [1,h·P,C] in float32
            long perBlock = (2L * cfg.dim() * cfg.heads() * 5 + cfg.heads() * 5L) * 4;
            assertEquals(cfg.depth() * perBlock, vit.cachedPromptBytes());
            float[] cached = Tensors.toFloats(vit.forward(x, false));
            assertArrayEquals(plain, first);
            assertArrayEquals(plain, cached);
            vit.cachePrompts(false);
            assertEquals(0, vit.cachedPromptBytes());
        }
    }
}
