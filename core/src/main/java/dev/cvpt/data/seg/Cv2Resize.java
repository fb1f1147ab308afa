package dev.cvpt.data.seg;

/**
 * OpenCV 4.6's {@code cv2.resize} on 8-bit images, bit for bit, and mmcv's keep-ratio size rule.
 *
 * <p>{@link #linear} is {@code INTER_LINEAR} on uint8 (any channel count, HWC): OpenCV computes it in
 * fixed point, not in floating point, so neither Pillow's bilinear nor torch's reproduce it. Port of
 * the reference {@code shared/reference/seg/seg_ref.py: cv2_resize_linear_u8} (re-derived from
 * OpenCV's {@code imgproc/src/resize.cpp}, generic path without IPP; checked there against Debian's
 * cv2 4.6.0 on 400 random cases):
 * <ul>
 * <li>x: {@code fx = float32((dx + 0.5)·scale − 0.5)}, {@code sx = floor(fx)}, {@code fx −= sx};
 *     {@code sx < 0 → (0, 0)}, {@code sx ≥ W−1 → (W−1, 0)}; weights {@code a0 = rint(float32(1 − fx)·2048)},
 *     {@code a1 = rint(fx·2048)}, rounded separately; {@code scale = 1 / (dsize / ssize)} in double.
 *     Horizontal pass {@code D = S[sx]·a0 + S[sx+1]·a1} (int).</li>
 * <li>y: the same coefficients without the clamp; the source rows sy, sy+1 are clipped to [0, H−1].
 *     Vertical pass (OpenCV's SIMD formula, {@code VResizeLinearVec_32s8u}):
 *     {@code out = sat_u8(((((D0 >> 4)·b0) >> 16) + (((D1 >> 4)·b1) >> 16) + 2) >> 2)}.</li>
 * <li>An exact 2× downscale in both axes is INTER_AREA in OpenCV: {@code (sum of the 2×2 block + 2) >> 2}.</li>
 * </ul>
 * {@link #nearest} is {@code INTER_NEAREST}: source index {@code floor(d · (1 / (dsize / ssize)))} in
 * double, clipped to size − 1 (what the train pipeline uses for label maps).
 */
public final class Cv2Resize {
    private Cv2Resize() {}

    /** The weight scale of OpenCV's fixed-point bilinear ({@code INTER_RESIZE_COEF_SCALE}). */
    static final int COEF_SCALE = 2048;

    /**
     * {@code cv2.resize(src, (newW, newH), interpolation=cv2.INTER_LINEAR)} for an 8-bit HWC image
     * with {@code channels} interleaved channels. Returns a new array (a copy when the size is unchanged).
     */
    public static byte[] linear(byte[] src, int w, int h, int channels, int newW, int newH) {
        check(src, w, h, channels, newW, newH);
        if (newW == w && newH == h) return src.clone();
        int cn = channels;
        byte[] out = new byte[newW * newH * cn];
        if (w == 2 * newW && h == 2 * newH) {               // is_area_fast with a 2 x 2 integer scale
            for (int y = 0; y < newH; y++)
                for (int x = 0; x < newW; x++)
                    for (int c = 0; c < cn; c++) {
                        int a = (2 * y * w + 2 * x) * cn + c, b = a + w * cn;
                        int s = (src[a] & 0xff) + (src[a + cn] & 0xff) + (src[b] & 0xff) + (src[b + cn] & 0xff);
                        out[(y * newW + x) * cn + c] = (byte) ((s + 2) >> 2);
                    }
            return out;
        }
        int[] xo = new int[newW], xa0 = new int[newW], xa1 = new int[newW];
        int[] yo = new int[newH], yb0 = new int[newH], yb1 = new int[newH];
        coefs(newW, w, 1.0 / ((double) newW / w), true, xo, xa0, xa1);
        coefs(newH, h, 1.0 / ((double) newH / h), false, yo, yb0, yb1);
        // horizontal pass for every source row that the vertical pass reads
        int[][] rows = new int[h][];
        int[] r0 = new int[newH], r1 = new int[newH];
        for (int d = 0; d < newH; d++) {
            r0[d] = clip(yo[d], h);
            r1[d] = clip(yo[d] + 1, h);
            for (int r : new int[]{r0[d], r1[d]}) if (rows[r] == null) rows[r] = hpass(src, w, cn, r, newW, xo, xa0, xa1);
        }
        for (int d = 0; d < newH; d++) {
            int[] d0 = rows[r0[d]], d1 = rows[r1[d]];
            int b0 = yb0[d], b1 = yb1[d], o = d * newW * cn;
            for (int i = 0; i < newW * cn; i++) {
                int v = ((((d0[i] >> 4) * b0) >> 16) + (((d1[i] >> 4) * b1) >> 16) + 2) >> 2;
                out[o + i] = (byte) (v < 0 ? 0 : Math.min(v, 255));
            }
        }
        return out;
    }

    private static int[] hpass(byte[] src, int w, int cn, int row, int newW, int[] xo, int[] xa0, int[] xa1) {
        int[] d = new int[newW * cn];
        int base = row * w * cn;
        for (int x = 0; x < newW; x++) {
            int s0 = base + xo[x] * cn, s1 = base + Math.min(xo[x] + 1, w - 1) * cn;
            for (int c = 0; c < cn; c++) d[x * cn + c] = (src[s0 + c] & 0xff) * xa0[x] + (src[s1 + c] & 0xff) * xa1[x];
        }
        return d;
    }

    private static void coefs(int nOut, int nIn, double scale, boolean clamp, int[] ofs, int[] a0, int[] a1) {
        for (int d = 0; d < nOut; d++) {
            float f = (float) ((d + 0.5) * scale - 0.5);
            int s = (int) Math.floor(f);
            f = f - s;
            if (clamp && s < 0) { f = 0; s = 0; }
            if (clamp && s >= nIn - 1) { f = 0; s = nIn - 1; }
            ofs[d] = s;
            a0[d] = (int) Math.rint((1f - f) * (float) COEF_SCALE);
            a1[d] = (int) Math.rint(f * (float) COEF_SCALE);
        }
    }

    private static int clip(int i, int n) { return i < 0 ? 0 : Math.min(i, n - 1); }

    /** {@code cv2.resize(src, (newW, newH), interpolation=cv2.INTER_NEAREST)} for 8-bit HWC data (labels: channels 1). */
    public static byte[] nearest(byte[] src, int w, int h, int channels, int newW, int newH) {
        check(src, w, h, channels, newW, newH);
        int[] xs = nearestIndex(newW, w), ys = nearestIndex(newH, h);
        byte[] out = new byte[newW * newH * channels];
        for (int y = 0; y < newH; y++)
            for (int x = 0; x < newW; x++)
                System.arraycopy(src, (ys[y] * w + xs[x]) * channels, out, (y * newW + x) * channels, channels);
        return out;
    }

    private static int[] nearestIndex(int nOut, int nIn) {
        double f = 1.0 / ((double) nOut / nIn);
        int[] idx = new int[nOut];
        for (int d = 0; d < nOut; d++) idx[d] = Math.min((int) Math.floor(d * f), nIn - 1);
        return idx;
    }

    private static void check(byte[] src, int w, int h, int channels, int newW, int newH) {
        if (w <= 0 || h <= 0 || channels <= 0 || newW <= 0 || newH <= 0)
            throw new IllegalArgumentException("bad sizes " + w + "x" + h + "x" + channels + " -> " + newW + "x" + newH);
        if (src.length != w * h * channels)
            throw new IllegalArgumentException("need " + w * h * channels + " bytes for " + w + "x" + h + "x" + channels + ", got " + src.length);
    }

    /** A new size (width, height) and the factor it came from. */
    public record Size(int width, int height, double factor) {}

    /**
     * mmcv {@code rescale_size((w, h), scale)} for a tuple scale (keep_ratio Resize):
     * {@code f = min(max(scale) / max(h, w), min(scale) / min(h, w))}, new size
     * {@code (int(w·f + 0.5), int(h·f + 0.5))}.
     */
    public static Size rescaleSize(int w, int h, int scaleA, int scaleB) {
        double longEdge = Math.max(scaleA, scaleB), shortEdge = Math.min(scaleA, scaleB);
        double f = Math.min(longEdge / Math.max(h, w), shortEdge / Math.min(h, w));
        return new Size((int) (w * f + 0.5), (int) (h * f + 0.5), f);
    }
}
