package dev.cvpt.data.seg;

/**
 * mmseg's {@code Normalize} (→ {@code mmcv.imnormalize}, cv2 path) on an 8-bit BGR image, bit-exact:
 * mean and std are stored as float32, the image is converted BGR → RGB, then
 * {@code d = float32(x − float32(mean))}, {@code out = float32(float64(d) · (1 / float64(float32(std))))}
 * (cv2.subtract then cv2.multiply by the float64 reciprocal; {@code seg_ref.imnormalize}).
 *
 * @param mean per channel in RGB order (ADE20K: 123.675, 116.28, 103.53)
 * @param std  per channel in RGB order (ADE20K: 58.395, 57.12, 57.375)
 */
public record Normalize(float[] mean, float[] std) {
    public static final Normalize IMAGENET = of(new double[]{123.675, 116.28, 103.53}, new double[]{58.395, 57.12, 57.375});

    public Normalize {
        if (mean.length != 3 || std.length != 3) throw new IllegalArgumentException("mean and std need 3 values");
        mean = mean.clone();
        std = std.clone();
    }

    /** From double values, rounded to float32 as mmseg's {@code np.array(mean, dtype=np.float32)}. */
    public static Normalize of(double[] mean, double[] std) {
        float[] m = new float[3], s = new float[3];
        for (int c = 0; c < 3; c++) {
            m[c] = (float) mean[c];
            s[c] = (float) std[c];
        }
        return new Normalize(m, s);
    }

    /** Normalised value of an 8-bit sample {@code v} of RGB channel {@code c}. */
    public float apply(int v, int c) {
        float d = (float) v - mean[c];
        return (float) ((double) d * (1.0 / (double) std[c]));
    }

    /** A BGR HWC 8-bit image → RGB CHW float32 normalised (what DefaultFormatBundle hands the model). */
    public float[] toChwRgb(byte[] bgr, int w, int h) {
        int n = w * h;
        if (bgr.length != 3 * n) throw new IllegalArgumentException("need " + 3 * n + " bytes, got " + bgr.length);
        float[] lut = new float[3 * 256];
        for (int c = 0; c < 3; c++) for (int v = 0; v < 256; v++) lut[c * 256 + v] = apply(v, c);
        float[] out = new float[3 * n];
        for (int i = 0; i < n; i++)
            for (int c = 0; c < 3; c++) out[c * n + i] = lut[c * 256 + (bgr[3 * i + 2 - c] & 0xff)];
        return out;
    }
}
