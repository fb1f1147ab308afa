package dev.cvpt.train.seg;

import dev.cvpt.TestData;
import dev.cvpt.engine.DataParallel;
import dev.cvpt.engine.Tensors;
import dev.cvpt.io.Checkpoint;
import dev.cvpt.io.HostTensor;
import dev.cvpt.io.Npz;
import dev.cvpt.model.seg.CrossWeights;
import dev.cvpt.model.seg.HeadSpec;
import dev.cvpt.model.seg.SegModel;
import dev.cvpt.model.seg.SegSpec;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The data-parallel step (backbone split over 2 workers, heads with BN over the whole batch) gives the
 * golden gradients of seg_pup_train, the same as a single-thread forward/backward.
 */
class SegStepsTest {
    static Path seg(String n) { return TestData.shared().resolve("golden/seg").resolve(n); }

    static SegSpec goldenSpec(String method) {
        List<HeadSpec> aux = List.of(new HeadSpec(0, 16, 2, 4, 3, 0.4), new HeadSpec(1, 16, 2, 4, 3, 0.4), new HeadSpec(2, 16, 2, 4, 3, 0.4));
        return new SegSpec(method, 4, CrossWeights.SHARED, 0, 0, 96, 96, List.of(0, 1, 2, 3), 5,
                new HeadSpec(3, 16, 4, 2, 3, 1.0), aux);
    }

    @Test
    void twoWorkersGiveTheGoldenGradients() {
        Path c = seg("seg_pup_train.npz"), ck = seg("seg4.npz");
        Map<String, HostTensor> g = Npz.read(c);
        Checkpoint ckpt = Checkpoint.load(ck);
        try (PointerScope s = new PointerScope(); DataParallel dp = new DataParallel(2)) {
            SegModel m = SegModel.build(ck, ckpt.tensors(), ckpt.heads(), goldenSpec("cvpt"));
            Map<String, Tensor> init = new LinkedHashMap<>(m.trainableParameters());
            init.putAll(m.buffers());
            try (NoGradGuard ng = new NoGradGuard()) {
                init.forEach((n, t) -> { if (!n.endsWith("num_batches_tracked")) Tensors.copyInto(t, c, g, "init/" + n, "case"); });
            }
            Tensor x = Tensors.fromHost(g.get("images")), y = Tensors.fromHost(g.get("labels"));
            SegSteps.Result r = SegSteps.forwardBackward(dp, m, x, y, false);
            assertEquals(g.get("loss").toFloats()[0], r.loss(), 2e-6 * r.loss());
            for (var e : m.trainableParameters().entrySet()) {
                float[] want = g.get("grad/" + e.getKey()).toFloats(), got = Tensors.toFloats(e.getValue().grad());
                double d = 0, sc = 0;
                for (int i = 0; i < want.length; i++) { d = Math.max(d, Math.abs(want[i] - got[i])); sc = Math.max(sc, Math.abs(want[i])); }
                assertTrue(d / sc <= 1e-5, e.getKey() + " rel " + d / sc);
            }
            // BN running statistics were updated once, over the whole batch
            float[] want = g.get("after/decode_head.up_convs.0.0.bn.running_var").toFloats();
            float[] got = Tensors.toFloats(m.buffers().get("decode_head.up_convs.0.0.bn.running_var"));
            for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-5 * Math.abs(want[i]));
        }
    }
}
