package dev.cvpt.data;

/** An 8-bit RGB image, rows top to bottom, pixels interleaved (HWC): what Pillow's {@code convert('RGB')} holds. */
public record RgbImage(int width, int height, byte[] rgb) {
    public RgbImage {
        if (width <= 0 || height <= 0) throw new IllegalArgumentException("empty image " + width + "x" + height);
        if (rgb.length != 3L * width * height)
            throw new IllegalArgumentException("need " + 3L * width * height + " bytes, got " + rgb.length);
    }

    /** Channel c (0..2) of pixel (x, y), 0..255. */
    public int get(int x, int y, int c) { return rgb[(y * width + x) * 3 + c] & 0xff; }
}
