package dev.cvpt.train.seg;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SegMetricsTest {
    @TempDir Path tmp;

    /** A hand-computed case: 2x3 image, K = 3, reduce_zero_label; raw 0 and 255 ignored. */
    @Test
    void handComputedWithReduceZeroLabel() throws Exception {
        SegMetrics m = new SegMetrics(3, true);
        byte[] gt = {0, 1, 1, 2, (byte) 255, 2};           // -> 255, 0, 0, 1, 255, 1
        int[] pred = {2, 0, 1, 1, 0, 2};
        m.add(pred, gt, 2, 3);
        SegMetrics.Result r = m.result();
        // kept pixels 1,2,3,5: (p,g) = (0,0) (1,0) (1,1) (2,1)
        assertEquals(List.of(1.0, 1.0, 0.0), List.of(r.areaIntersect()[0], r.areaIntersect()[1], r.areaIntersect()[2]));
        assertEquals(1.0 / 2, r.iou()[0]);       // I 1, U = 1 + 2 - 1
        assertEquals(1.0 / 3, r.iou()[1]);       // I 1, U = 2 + 2 - 1
        assertEquals(0.0, r.iou()[2]);           // predicted only
        assertTrue(Double.isNaN(r.acc()[2]));
        assertEquals(0.5, r.aAcc());
        assertEquals((0.5 + 1.0 / 3 + 0) / 3, r.mIoU());
        assertEquals(0.5, r.mAcc());
        assertEquals(0.2778, r.evalMIoU());      // np.round(27.777.., 2) / 100

        m.writeTables(tmp, List.of("a", "b", "c"));
        String md = Files.readString(tmp.resolve("seg_metrics.md"));
        assertTrue(md.contains("| a | 50.00 | 50.00 |"), md);
        assertTrue(md.contains("| c | 0.00 | nan |"), md);
        assertTrue(md.contains("| 50.00 | 27.78 | 50.00 |"), md);
        JsonNode j = new ObjectMapper().readTree(tmp.resolve("seg_metrics.json").toFile());
        assertTrue(j.get("classes").get(2).get("Acc").isNull());
        assertEquals(0.2778, j.get("mmseg_rounded").get("mIoU").asDouble());
        List<String> csv = Files.readAllLines(tmp.resolve("seg_metrics.csv"));
        assertEquals("2,c,0.0,nan,0,1,1,0", csv.get(3));
    }

    @Test
    void uint8WrapAndLabelMap() {
        // label_map 3 -> 0 then reduce_zero_label: 0 -> 255 (ignored); 255 stays ignored; int gts do not wrap
        SegMetrics m = new SegMetrics(2, true, Map.of(3, 0));
        assertEquals(List.of(255, 255, 0, 255), box(m.prepare(new int[]{3, 0, 1, 255}, true)));
        SegMetrics plain = new SegMetrics(2, false, Map.of(1, -1));
        assertEquals(List.of(255, 0), box(plain.prepare(new int[]{1, 0}, true)));
        assertEquals(List.of(-1, 0), box(plain.prepare(new int[]{1, 0}, false)));
    }

    @Test
    void roundingIsNumpys() {
        assertEquals(0.1235, SegMetrics.round(0.123456));
        assertEquals(0.0, SegMetrics.round(0.0));
        assertTrue(Double.isNaN(SegMetrics.round(Double.NaN)));
        assertTrue(Double.isNaN(SegMetrics.nanmean(new double[]{Double.NaN})));
    }

    static List<Integer> box(int[] a) { return java.util.Arrays.stream(a).boxed().toList(); }
}
