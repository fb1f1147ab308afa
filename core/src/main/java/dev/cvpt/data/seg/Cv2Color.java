package dev.cvpt.data.seg;

/**
 * OpenCV 4.6's {@code cvtColor} BGR ↔ HSV on uint8 ({@code COLOR_BGR2HSV}, {@code COLOR_HSV2BGR}; H in
 * 0..179, S and V in 0..255), what mmcv's {@code bgr2hsv} / {@code hsv2bgr} call in mmseg's
 * PhotoMetricDistortion. Re-derived from {@code imgproc/src/color_hsv.simd.hpp} ({@code RGB2HSV_b}:
 * 12-bit fixed-point division tables; {@code HSV2RGB_b}: float32 through {@code HSV2RGB_native},
 * see {@link #hsv2bgr} for its two code paths); checked equal to Debian's cv2 4.6.0 on all 2^24 inputs in both
 * directions and both HSV → BGR paths (the test pins the SHA-256 of the full tables).
 */
public final class Cv2Color {
    private Cv2Color() {}

    private static final int HSV_SHIFT = 12;
    private static final int[] SDIV = new int[256], HDIV180 = new int[256];

    static {
        for (int i = 1; i < 256; i++) {
            SDIV[i] = (int) Math.rint((255 << HSV_SHIFT) / (1.0 * i));
            HDIV180[i] = (int) Math.rint((180 << HSV_SHIFT) / (6.0 * i));
        }
    }

    /** BGR → HSV for {@code n} interleaved pixels, from {@code src} into {@code dst} (may be the same array). */
    public static void bgr2hsv(byte[] src, byte[] dst) {
        for (int i = 0; i < src.length; i += 3) {
            int b = src[i] & 0xff, g = src[i + 1] & 0xff, r = src[i + 2] & 0xff;
            int v = Math.max(b, Math.max(g, r)), vmin = Math.min(b, Math.min(g, r));
            int diff = v - vmin;
            int vr = v == r ? -1 : 0, vg = v == g ? -1 : 0;
            int s = (diff * SDIV[v] + (1 << (HSV_SHIFT - 1))) >> HSV_SHIFT;
            int h = (vr & (g - b)) + (~vr & ((vg & (b - r + 2 * diff)) + ((~vg) & (r - g + 4 * diff))));
            h = (h * HDIV180[diff] + (1 << (HSV_SHIFT - 1))) >> HSV_SHIFT;
            h += h < 0 ? 180 : 0;
            dst[i] = (byte) Math.min(Math.max(h, 0), 255);
            dst[i + 1] = (byte) s;
            dst[i + 2] = (byte) v;
        }
    }

    private static final int[][] SECTOR = {{1, 3, 0}, {1, 0, 2}, {3, 0, 1}, {0, 2, 1}, {0, 1, 3}, {2, 1, 0}};

    /** Pixels per SIMD block of {@code HSV2RGB_b} in an AVX2 build (4 registers of 8 float lanes). */
    static final int SIMD_BLOCK = 32;

    /**
     * HSV → BGR for an image {@code width} pixels wide (interleaved), from {@code src} into {@code dst}
     * (may be the same array). OpenCV converts each row in blocks of 32 pixels with its SIMD code and the
     * rest of the row with scalar code, and the two differ: the SIMD code computes {@code 1 − s·h} and
     * {@code 1 − s·(1 − h)} with fused multiply-adds and TRUNCATES {@code x·255}; the scalar code fuses
     * {@code 1 − s·h} only and rounds to nearest even. Both are reproduced, so the output depends on the
     * row width exactly as cv2's does (Debian cv2 4.6.0, AVX2 dispatch; other builds: unverified).
     */
    public static void hsv2bgr(byte[] src, byte[] dst, int width) {
        if (width <= 0 || src.length % (3 * width) != 0) throw new IllegalArgumentException("width " + width + " for " + src.length / 3 + " pixels");
        int simd = width / SIMD_BLOCK * SIMD_BLOCK;
        for (int p = 0, n = src.length / 3; p < n; p++) hsv2bgrPixel(src, dst, 3 * p, p % width < simd);
    }

    private static void hsv2bgrPixel(byte[] src, byte[] dst, int i, boolean simd) {
        final float hscale = 6.0f / 180;
        float h = src[i] & 0xff, s = (src[i + 1] & 0xff) * (1.0f / 255.0f), v = (src[i + 2] & 0xff) * (1.0f / 255.0f);
        float t0 = v, t1, t2, t3;
        int sector;
        h *= hscale;
        if (simd) {                                   // HSV2RGB_simd: sector from trunc, no s == 0 branch (same result)
            float pre = (float) (int) h;
            h -= pre;
            sector = (int) (pre - (float) (int) (pre * (1.0f / 6.0f)) * 6.0f);
            t1 = v * (1f - s);
            t2 = v * Math.fma(-s, h, 1f);
            t3 = v * Math.fma(-s, 1f - h, 1f);
        } else {                                      // HSV2RGB_native
            if (s == 0) {
                byte g = sat(v, false);
                dst[i] = dst[i + 1] = dst[i + 2] = g;
                return;
            }
            h = h % 6f;                               // C fmod: exact
            sector = (int) Math.floor(h);
            h -= sector;
            if (sector < 0 || sector >= 6) {
                sector = 0;
                h = 0f;
            }
            t1 = v * (1f - s);
            t2 = v * Math.fma(-s, h, 1f);
            t3 = v * (1f - s * (1f - h));
        }
        float[] tab = {t0, t1, t2, t3};
        float b = tab[SECTOR[sector][0]], g = tab[SECTOR[sector][1]], r = tab[SECTOR[sector][2]];
        dst[i] = sat(b, simd);
        dst[i + 1] = sat(g, simd);
        dst[i + 2] = sat(r, simd);
    }

    private static byte sat(float x, boolean truncate) {
        float y = x * 255.0f;
        int v = truncate ? (int) y : (int) Math.rint(y);
        return (byte) (v < 0 ? 0 : Math.min(v, 255));
    }
}
