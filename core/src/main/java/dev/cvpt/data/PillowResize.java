package dev.cvpt.data;

/**
 * Pillow 9.4's {@code Image.resize} for 8-bit RGB, reproduced operation for operation from
 * src/libImaging/Resample.c: separable passes (horizontal first, then vertical), the filter
 * support widened by the scale when shrinking (antialiasing), coefficients normalised in double
 * then rounded to 22-bit fixed point, an accumulator starting at one half, and the intermediate
 * image clipped to uint8. Anything less than this changes pixels.
 *
 * <p>A window of the output can be computed alone ({@link #resizeWindow}): each output pixel depends
 * only on its own coefficients, so cropping afterwards gives the same bytes as resizing the window.
 */
public final class PillowResize {
    private PillowResize() {}

    public enum Filter {
        BILINEAR(1.0) {
            @Override double weight(double x) {
                if (x < 0.0) x = -x;
                return x < 1.0 ? 1.0 - x : 0.0;
            }
        },
        BICUBIC(2.0) {
            @Override double weight(double x) {
                final double a = -0.5; // Pillow's choice (Keys), not -0.75 as in OpenCV
                if (x < 0.0) x = -x;
                if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
                if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
                return 0.0;
            }
        };

        final double support;

        Filter(double support) { this.support = support; }

        abstract double weight(double x);
    }

    private static final int PRECISION_BITS = 32 - 8 - 2;

    /** Per output index: first input index, tap count and fixed-point taps. */
    record Coeffs(int[] start, int[] count, int[][] taps) {}

    /**
     * precompute_coeffs + normalize_coeffs_8bpc for output indices [from, from+n) of an
     * outSize-long axis (Pillow's box is the whole input, so in0 = 0, in1 = inSize).
     */
    static Coeffs coeffs(int inSize, int outSize, int from, int n, Filter f) {
        double scale = (double) (float) inSize / outSize; // Pillow: (double)(in1 - in0) / outSize, floats
        double filterscale = Math.max(scale, 1.0);
        double support = f.support * filterscale;
        double ss = 1.0 / filterscale;
        int[] start = new int[n], count = new int[n];
        int[][] taps = new int[n][];
        for (int i = 0; i < n; i++) {
            int xx = from + i;
            double center = (xx + 0.5) * scale;
            int xmin = (int) (center - support + 0.5); // C cast: truncation toward zero
            if (xmin < 0) xmin = 0;
            int xmax = (int) (center + support + 0.5);
            if (xmax > inSize) xmax = inSize;
            xmax -= xmin;
            double[] k = new double[xmax];
            double ww = 0.0;
            for (int x = 0; x < xmax; x++) {
                double w = f.weight((x + xmin - center + 0.5) * ss);
                k[x] = w;
                ww += w;
            }
            int[] t = new int[xmax];
            for (int x = 0; x < xmax; x++) {
                double v = ww != 0.0 ? k[x] / ww : k[x];
                t[x] = v < 0 ? (int) (-0.5 + v * (1 << PRECISION_BITS)) : (int) (0.5 + v * (1 << PRECISION_BITS));
            }
            start[i] = xmin;
            count[i] = xmax;
            taps[i] = t;
        }
        return new Coeffs(start, count, taps);
    }

    private static int clip8(int v) {
        v >>= PRECISION_BITS;
        return v < 0 ? 0 : Math.min(v, 255);
    }

    /** The whole image resized to w×h. */
    public static RgbImage resize(RgbImage in, int w, int h, Filter f) {
        return resizeWindow(in, w, h, 0, 0, w, h, f);
    }

    /**
     * The window (x0, y0, cw, ch) of {@code in} resized to outW×outH, i.e.
     * {@code im.resize((outW, outH)).crop((x0, y0, x0+cw, y0+ch))} in Pillow.
     */
    public static RgbImage resizeWindow(RgbImage in, int outW, int outH, int x0, int y0, int cw, int ch, Filter f) {
        if (x0 < 0 || y0 < 0 || cw <= 0 || ch <= 0 || x0 + cw > outW || y0 + ch > outH)
            throw new IllegalArgumentException("window " + x0 + "," + y0 + " " + cw + "x" + ch + " outside " + outW + "x" + outH);
        int inW = in.width(), inH = in.height();
        boolean needH = outW != inW, needV = outH != inH;
        byte[] src = in.rgb();

        // Rows of the input that the vertical pass reads (all when there is no vertical pass).
        Coeffs cv = needV ? coeffs(inH, outH, y0, ch, f) : null;
        int rowFirst, rowLast;
        if (needV) {
            rowFirst = cv.start[0];
            rowLast = cv.start[ch - 1] + cv.count[ch - 1];
        } else {
            rowFirst = y0;
            rowLast = y0 + ch;
        }
        int rows = rowLast - rowFirst;

        // Horizontal pass into a uint8 image of cw × rows (Pillow rounds and clips here too).
        byte[] tmp;
        if (needH) {
            Coeffs chz = coeffs(inW, outW, x0, cw, f);
            tmp = new byte[cw * rows * 3];
            final int half = 1 << (PRECISION_BITS - 1);
            for (int r = 0; r < rows; r++) {
                int srcRow = (rowFirst + r) * inW * 3, dst = r * cw * 3;
                for (int xx = 0; xx < cw; xx++) {
                    int[] k = chz.taps[xx];
                    int p = srcRow + chz.start[xx] * 3, n = chz.count[xx];
                    int s0 = half, s1 = half, s2 = half;
                    for (int x = 0; x < n; x++, p += 3) {
                        int kx = k[x];
                        s0 += (src[p] & 0xff) * kx;
                        s1 += (src[p + 1] & 0xff) * kx;
                        s2 += (src[p + 2] & 0xff) * kx;
                    }
                    tmp[dst++] = (byte) clip8(s0);
                    tmp[dst++] = (byte) clip8(s1);
                    tmp[dst++] = (byte) clip8(s2);
                }
            }
        } else {
            tmp = new byte[cw * rows * 3];
            for (int r = 0; r < rows; r++)
                System.arraycopy(src, ((rowFirst + r) * inW + x0) * 3, tmp, r * cw * 3, cw * 3);
        }
        if (!needV) return new RgbImage(cw, ch, tmp);

        // Vertical pass.
        byte[] out = new byte[cw * ch * 3];
        final int half = 1 << (PRECISION_BITS - 1), stride = cw * 3;
        int[] acc = new int[stride];
        for (int yy = 0; yy < ch; yy++) {
            int[] k = cv.taps[yy];
            int first = cv.start[yy] - rowFirst, n = cv.count[yy];
            java.util.Arrays.fill(acc, half);
            for (int y = 0; y < n; y++) {
                int ky = k[y], p = (first + y) * stride;
                for (int i = 0; i < stride; i++) acc[i] += (tmp[p + i] & 0xff) * ky;
            }
            int o = yy * stride;
            for (int i = 0; i < stride; i++) out[o + i] = (byte) clip8(acc[i]);
        }
        return new RgbImage(cw, ch, out);
    }
}
