package dev.cvpt.data;

import dev.cvpt.data.PillowResize.Filter;

import java.util.Random;

/**
 * The torchvision pipelines of the official code, on Pillow, producing uint8 CHW (what
 * {@code ToTensor} sees); {@link #toNormalizedFloats} then does ToTensor + Normalize in float32.
 */
public final class Transforms {
    private Transforms() {}

    /** ImageNet statistics as torch holds them: float32. */
    public static final float[] MEAN = {0.485f, 0.456f, 0.406f}, STD = {0.229f, 0.224f, 0.225f};

    /** An image transform to uint8 CHW of a fixed output size. */
    public interface Transform {
        /** uint8 CHW, 3×size×size; {@code rng} is only used by random transforms (may be null otherwise). */
        byte[] apply(RgbImage image, Random rng);

        int size();

        /** True when the output depends on the RNG (so it cannot be cached). */
        boolean random();

        String name();
    }

    /** VTAB: {@code Resize((size, size), BICUBIC)}. Train and test alike. */
    public static Transform vtab(int size) {
        checkSize(size);
        return new Transform() {
            public byte[] apply(RgbImage im, Random rng) {
                return toChw(PillowResize.resize(im, size, size, Filter.BICUBIC), false);
            }
            public int size() { return size; }
            public boolean random() { return false; }
            public String name() { return "vtab"; }
        };
    }

    /**
     * The FGVC resize edge for a crop size: {@code floor(size * 256 / 224)}. This is 256 for 224 and
     * reproduces VPT's table (448 → 512, 384 → 438); 32 → 36.
     */
    public static int fgvcResize(int size) { return (int) ((long) size * 256 / 224); }

    /** FGVC test: {@code Resize(fgvcResize(size))} (shorter side, BILINEAR) then {@code CenterCrop(size)}. */
    public static Transform fgvcTest(int size) {
        checkSize(size);
        int edge = fgvcResize(size);
        return new Transform() {
            public byte[] apply(RgbImage im, Random rng) {
                int[] wh = shorterSide(im.width(), im.height(), edge);
                // torchvision's center_crop: int(round((h - th) / 2.0)), Python rounds half to even
                int top = (int) Math.rint((wh[1] - size) / 2.0), left = (int) Math.rint((wh[0] - size) / 2.0);
                return toChw(PillowResize.resizeWindow(im, wh[0], wh[1], left, top, size, size, Filter.BILINEAR), false);
            }
            public int size() { return size; }
            public boolean random() { return false; }
            public String name() { return "fgvc-test"; }
        };
    }

    /**
     * FGVC train: {@code Resize(fgvcResize(size))}, {@code RandomCrop(size)}, {@code RandomHorizontalFlip(0.5)}.
     * Same distribution as torchvision (uniform offsets, flip with probability ½), not its RNG stream.
     */
    public static Transform fgvcTrain(int size) {
        checkSize(size);
        int edge = fgvcResize(size);
        return new Transform() {
            public byte[] apply(RgbImage im, Random rng) {
                int[] wh = shorterSide(im.width(), im.height(), edge);
                int top = rng.nextInt(wh[1] - size + 1), left = rng.nextInt(wh[0] - size + 1);
                boolean flip = rng.nextDouble() < 0.5;
                return toChw(PillowResize.resizeWindow(im, wh[0], wh[1], left, top, size, size, Filter.BILINEAR), flip);
            }
            public int size() { return size; }
            public boolean random() { return true; }
            public String name() { return "fgvc-train"; }
        };
    }

    /** By name as on the command line: vtab, fgvc-test, fgvc-train. */
    public static Transform byName(String name, int size) {
        return switch (name) {
            case "vtab" -> vtab(size);
            case "fgvc-test", "fgvc_test" -> fgvcTest(size);
            case "fgvc-train", "fgvc_train" -> fgvcTrain(size);
            default -> throw new IllegalArgumentException("unknown transform '" + name + "' (vtab, fgvc-test, fgvc-train)");
        };
    }

    private static void checkSize(int size) {
        if (size <= 0) throw new IllegalArgumentException("image size must be positive, got " + size);
    }

    /**
     * torchvision 0.14 {@code Resize(int)} on a PIL image: the shorter side becomes {@code edge}, the
     * longer {@code int(edge * long / short)} (truncated, in double as Python does).
     */
    static int[] shorterSide(int w, int h, int edge) {
        int shortS = Math.min(w, h), longS = Math.max(w, h);
        if (shortS == edge) return new int[]{w, h};
        int newLong = (int) ((double) ((long) edge * longS) / shortS);
        return w <= h ? new int[]{edge, newLong} : new int[]{newLong, edge};
    }

    /** HWC → CHW, optionally mirrored left-right. */
    static byte[] toChw(RgbImage im, boolean flip) {
        int w = im.width(), h = im.height(), plane = w * h;
        byte[] src = im.rgb(), out = new byte[3 * plane];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int s = (y * w + (flip ? w - 1 - x : x)) * 3, d = y * w + x;
                out[d] = src[s];
                out[plane + d] = src[s + 1];
                out[2 * plane + d] = src[s + 2];
            }
        }
        return out;
    }

    /** ToTensor + Normalize of one uint8 CHW image into {@code out} at {@code offset}. */
    public static void toNormalizedFloats(byte[] chw, float[] out, int offset) {
        int plane = chw.length / 3;
        for (int c = 0; c < 3; c++) {
            float[] lut = LUT[c];
            for (int i = c * plane, e = i + plane; i < e; i++) out[offset + i] = lut[chw[i] & 0xff];
        }
    }

    public static float[] toNormalizedFloats(byte[] chw) {
        float[] out = new float[chw.length];
        toNormalizedFloats(chw, out, 0);
        return out;
    }

    /** One value as torch computes it: float32 x / 255, minus mean, divided by std, each rounded to float32. */
    public static float normalize(int v, int channel) {
        float x = (float) v / 255f;
        return (x - MEAN[channel]) / STD[channel];
    }

    // 256 possible inputs per channel: a table is exact and cheaper than the arithmetic.
    private static final float[][] LUT = new float[3][256];

    static {
        for (int c = 0; c < 3; c++) for (int v = 0; v < 256; v++) LUT[c][v] = normalize(v, c);
    }
}
