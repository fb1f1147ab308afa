package dev.cvpt.data.seg;

import dev.cvpt.TestData;
import dev.cvpt.io.HostTensor;
import dev.cvpt.io.Npz;
import org.junit.jupiter.api.Test;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;
import java.util.random.RandomGenerator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * cv2 4.6.0 (Debian) outputs in src/test/resources/seg/cv2_cases.npz: random uint8 images, 1 and 3
 * channels, enlarged, shrunk, exactly halved (INTER_AREA path), same size; and one PhotoMetricDistortion
 * with fixed draws (mmseg's code on cv2).
 */
class Cv2ResizeTest {
    static final Map<String, HostTensor> CASES = Npz.read(TestData.resource("seg/cv2_cases.npz"));

    static byte[] bytes(HostTensor t) {
        long[] v = t.toLongs();
        byte[] b = new byte[v.length];
        for (int i = 0; i < v.length; i++) b[i] = (byte) v[i];
        return b;
    }

    @Test
    void linearAndNearestMatchCv2BitForBit() {
        int n = 0;
        for (String key : CASES.keySet()) {
            if (!key.endsWith("/src") || key.startsWith("photometric")) continue;
            String p = key.substring(0, key.length() - 4);
            HostTensor src = CASES.get(key), lin = CASES.get(p + "/linear"), nn = CASES.get(p + "/nearest");
            int h = (int) src.shape()[0], w = (int) src.shape()[1], cn = src.rank() == 3 ? (int) src.shape()[2] : 1;
            int nh = (int) lin.shape()[0], nw = (int) lin.shape()[1];
            assertArrayEquals(bytes(lin), Cv2Resize.linear(bytes(src), w, h, cn, nw, nh), p + " linear " + w + "x" + h + " -> " + nw + "x" + nh);
            assertArrayEquals(bytes(nn), Cv2Resize.nearest(bytes(src), w, h, cn, nw, nh), p + " nearest");
            n++;
        }
        assertEquals(18, n);
    }

    @Test
    void rescaleSizeIsMmcvs() {
        // mmcv.rescale_size((w, h), (2048, 512)): f = min(2048 / max, 512 / min)
        assertEquals(new Cv2Resize.Size(683, 512, 512.0 / 512), Cv2Resize.rescaleSize(683, 512, 2048, 512));
        Cv2Resize.Size s = Cv2Resize.rescaleSize(17, 13, 64, 16);
        assertEquals(21, s.width());
        assertEquals(16, s.height());
        Cv2Resize.Size wide = Cv2Resize.rescaleSize(4000, 500, 2048, 512);   // long side limits: f = 2048 / 4000
        assertEquals(2048, wide.width());
        assertEquals(256, wide.height());
    }

    /** Returns scripted values: nextInt(bound) and nextDouble() pop from their own queues. */
    static final class Scripted implements RandomGenerator {
        final Deque<Integer> ints = new ArrayDeque<>();
        final Deque<Double> doubles = new ArrayDeque<>();

        @Override public long nextLong() { throw new AssertionError("unexpected nextLong"); }
        @Override public int nextInt(int bound) {
            int v = ints.pop();
            assertTrue(v >= 0 && v < bound);
            return v;
        }
        @Override public double nextDouble() { return doubles.pop(); }
    }

    @Test
    void photometricDistortionMatchesMmsegOnCv2() {
        HostTensor src = CASES.get("photometric/src");
        int h = (int) src.shape()[0], w = (int) src.shape()[1];       // 37 wide: 32 SIMD + 5 scalar pixels in cv2
        byte[] img = bytes(src);
        Scripted r = new Scripted();
        // brightness on (0.7 -> +12.8); mode 0; saturation on (x1.31); hue on (randint -> +7); contrast on (x0.77)
        r.ints.addAll(java.util.List.of(1, 0, 1, 1, 25, 1));
        r.doubles.addAll(java.util.List.of(0.7, 0.81, 0.27));
        SegPipeline.photometric(img, w, r);
        assertTrue(r.ints.isEmpty() && r.doubles.isEmpty(), "every scripted draw used, in mmseg's order");
        assertArrayEquals(bytes(CASES.get("photometric/out")), img);
        assertEquals(h * w * 3, img.length);
    }
}
