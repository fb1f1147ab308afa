package dev.cvpt.verify;

import dev.cvpt.TestData;
import dev.cvpt.cli.Main;
import dev.cvpt.io.HostTensor;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The model-free segmentation goldens (shared/golden/seg): metrics and resize, compared exactly. */
class SegGoldenTest {
    static Path seg(String name) { return TestData.golden("seg").resolve(name); }

    @SuppressWarnings("unchecked")
    static Map<String, Object> entry(GoldenCases.Outcome o, String name) {
        return (Map<String, Object>) ((Map<String, Object>) o.json().get("entries")).get(name);
    }

    @Test
    void metricsPlain() {
        GoldenCases.Outcome o = GoldenCases.run(seg("seg_metrics_plain.npz"), null);
        assertTrue(o.passed(), o.json().toString());
        for (String k : List.of("area_intersect", "area_union", "IoU", "Acc", "aAcc", "mIoU", "mAcc", "eval_mIoU", "eval_IoU"))
            assertEquals(0L, ((Number) entry(o, k).get("mismatches")).longValue(), k);
        double[] iou = SegGoldenCheck.toDoubles(o.computed().get("IoU")), acc = SegGoldenCheck.toDoubles(o.computed().get("Acc"));
        assertEquals(5, iou.length);
        assertTrue(Double.isNaN(iou[1]) && Double.isNaN(acc[1]), "class 1 absent from gt and pred: NaN");
        for (int k : new int[]{0, 2, 3, 4}) assertFalse(Double.isNaN(iou[k]));
    }

    @Test
    void metricsReduceZeroLabel() {
        GoldenCases.Outcome o = GoldenCases.run(seg("seg_metrics_rzl.npz"), null);
        assertTrue(o.passed(), o.json().toString());
        double[] iou = SegGoldenCheck.toDoubles(o.computed().get("IoU")), acc = SegGoldenCheck.toDoubles(o.computed().get("Acc"));
        assertTrue(Double.isNaN(iou[2]) && Double.isNaN(acc[2]), "class 2 absent: IoU and Acc NaN");
        assertEquals(0.0, iou[4], "class 4 only predicted: IoU 0");
        assertTrue(Double.isNaN(acc[4]), "class 4 only predicted: Acc NaN");
        HostTensor miou = o.computed().get("mIoU");
        assertEquals(0.35091153880161513, SegGoldenCheck.toDoubles(miou)[0], 0.0);        // the case's json
        assertEquals(0.5925925925925926, SegGoldenCheck.toDoubles(o.computed().get("aAcc"))[0], 0.0);
    }

    @Test
    void resizeNormalizeAndLabelsBitExact() {
        GoldenCases.Outcome o = GoldenCases.run(seg("seg_resize.npz"), null);
        assertTrue(o.passed(), o.json().toString());
        assertEquals(1008L, ((Number) entry(o, "resized").get("values")).longValue());
        assertEquals(1008L, ((Number) entry(o, "normalized").get("values")).longValue());
        assertEquals(336L, ((Number) entry(o, "label_resized").get("values")).longValue());
        assertEquals(0.0, ((Number) entry(o, "normalized").get("max_abs")).doubleValue());
    }

    @Test
    void cliExitsZeroOnEachCase() {
        for (String c : List.of("seg_metrics_plain.npz", "seg_metrics_rzl.npz", "seg_resize.npz"))
            assertEquals(0, Main.execute("verify", seg(c).toString()), c);
    }

    @Test
    void unknownKindIsBadInputNamingTheCase(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        java.nio.file.Files.copy(seg("seg_resize.npz"), tmp.resolve("x.npz"));
        java.nio.file.Files.writeString(tmp.resolve("x.json"), "{\"config\": {\"kind\": \"bogus\"}}");
        dev.cvpt.UserException e = org.junit.jupiter.api.Assertions.assertThrows(dev.cvpt.UserException.class,
                () -> GoldenCases.run(tmp.resolve("x.npz"), null));
        assertTrue(e.getMessage().startsWith(tmp.resolve("x.npz") + ": config.kind 'bogus' has no checker (known: metrics, resize"), e.getMessage());
        assertEquals(2, Main.execute("verify", tmp.resolve("x.npz").toString()));
    }

    @Test
    void aTamperedGoldenFails(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        Map<String, HostTensor> g = new java.util.LinkedHashMap<>(dev.cvpt.io.Npz.read(seg("seg_metrics_rzl.npz")));
        double[] iou = SegGoldenCheck.toDoubles(g.get("IoU"));
        iou[0] += 1e-12;
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(8 * iou.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (double v : iou) b.putDouble(v);
        b.flip();
        g.put("IoU", new HostTensor(dev.cvpt.io.DType.F64, g.get("IoU").shape(), b));
        dev.cvpt.io.Npz.write(tmp.resolve("t.npz"), g);
        java.nio.file.Files.copy(seg("seg_metrics_rzl.json"), tmp.resolve("t.json"));
        GoldenCases.Outcome o = GoldenCases.run(tmp.resolve("t.npz"), null);
        assertFalse(o.passed());
        assertEquals(List.of("IoU"), o.json().get("over_tolerance"));
        assertEquals(1, Main.execute("verify", tmp.resolve("t.npz").toString()));
    }

    @Test
    void aWrongValueFails() {
        Map<String, HostTensor> none = Map.of();
        SegGoldenCheck.Cmp c = SegGoldenCheck.compare(new double[]{1, Double.NaN, 3}, new double[]{1, 2, 3});
        assertFalse(c.ok());
        assertEquals(1, c.mismatches());
        assertTrue(SegGoldenCheck.compare(new double[]{Double.NaN}, new double[]{Double.NaN}).ok());
        assertTrue(none.isEmpty());
    }
}
