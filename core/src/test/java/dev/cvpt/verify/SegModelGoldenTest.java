package dev.cvpt.verify;

import dev.cvpt.TestData;
import dev.cvpt.cli.Main;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The segmentation golden cases of the PyTorch oracle (seg_ref.py): the public ones in ../shared/golden/seg
 * (cross-attention weights shared) and two small ones made with make_golden_seg.py --cross stored (the
 * released code's frozen random cross-attention), recomputed by {@link SegModelCheck} at rel 1e-5.
 */
class SegModelGoldenTest {
    static Path seg(String name) { return TestData.shared().resolve("golden/seg").resolve(name); }

    private static void passes(Path c, Path ckpt, String... mustHave) {
        GoldenCheck.Result r = SegModelCheck.run(c, ckpt != null ? ckpt : GoldenCheck.defaultCheckpoint(c));
        assertTrue(r.passed(), "over tolerance: " + r.overTolerance() + " " + r.toJson());
        for (String k : mustHave) assertTrue(r.entries().containsKey(k), k + " not compared");
        for (var e : r.entries().entrySet())
            if (!e.getKey().startsWith("after")) assertTrue(e.getValue().rel() <= 1e-5, e.getKey() + " " + e.getValue());
    }

    @Test
    void pupTrainShared() {
        passes(seg("seg_pup_train.npz"), null, "feat/3", "logits/aux_2", "loss", "grad/backbone.Prompt_Tokens",
                "grad/auxiliary_head.2.conv_seg.weight", "after/decode_head.up_convs.3.0.bn.running_var",
                "after2/backbone.Prompt_Tokens", "loss_after");
    }

    @Test
    void slideShared() {
        passes(seg("seg_slide.npz"), null, "seg_logit_avg", "count", "scores", "pred");
    }

    @Test
    void storedCrossAttentionTrainAndSlide() {
        Path ckpt = seg("seg4.npz");
        passes(TestData.resource("dev/cvpt/seg/seg_stored_train.npz"), ckpt, "grad/backbone.Prompt_Tokens", "after2/backbone.Prompt_Tokens");
        passes(TestData.resource("dev/cvpt/seg/seg_stored_slide.npz"), ckpt, "pred");
    }

    @Test
    void cliExitCodes() {
        assertEquals(Main.OK, Main.execute("verify", seg("seg_slide.npz").toString()));
        assertEquals(Main.OK, Main.execute("verify", seg("seg_pup_train.npz").toString()));
        assertEquals(Main.BAD_INPUT, Main.execute("verify", seg("no_such_case.npz").toString()));
    }

    @Test
    void aWrongLearningRateFails() {
        // the after/ entries are relative to the update: a step at another lr is far outside the allowance
        double wrong = SegModelCheck.compareStep(new float[]{1.0f + 1.1e-3f}, new float[]{1.0f + 1e-3f}, new float[]{1.0f}).relConditioned();
        assertTrue(wrong > 1e-2, "relConditioned " + wrong);
        double ulp = SegModelCheck.compareStep(new float[]{Math.nextUp(1.0f + 1e-6f)}, new float[]{1.0f + 1e-6f}, new float[]{1.0f}).relConditioned();
        assertEquals(0.0, ulp);
    }
}
