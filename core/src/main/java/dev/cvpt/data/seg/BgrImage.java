package dev.cvpt.data.seg;

import dev.cvpt.data.ImageDecoder;
import dev.cvpt.data.RgbImage;

import java.nio.file.Path;

/**
 * An 8-bit BGR image (HWC, interleaved), what mmseg's {@code LoadImageFromFile} holds after
 * {@code cv2.imdecode(..., IMREAD_COLOR)}.
 *
 * <p>Decoding: {@link ImageDecoder} (ImageIO with the system libjpeg-turbo, Pillow's conversion rules)
 * and the channels swapped to BGR. For 8-bit JPEG (baseline and progressive, grey or YCbCr) and 8-bit
 * PNG (grey, RGB, palette; alpha dropped) this is the same pixel data cv2 gives: Debian's cv2 4.6 and
 * the JDK link the same libjpeg-turbo (islow IDCT, fancy upsampling) and both expand grey and palettes
 * the same way. Known differences from cv2, on purpose or untested: no EXIF orientation (cv2 applies
 * it), 16-bit PNG (cv2 keeps the high byte, Pillow clips 16-bit grey), CMYK JPEG (Pillow's conversion).
 */
public record BgrImage(int width, int height, byte[] bgr) {
    public BgrImage {
        if (width <= 0 || height <= 0) throw new IllegalArgumentException("empty image " + width + "x" + height);
        if (bgr.length != 3 * width * height) throw new IllegalArgumentException("need " + 3 * width * height + " bytes, got " + bgr.length);
    }

    /** Decodes {@code file}; an unreadable file is an {@link dev.cvpt.data.ImageDecodeException} naming it. */
    public static BgrImage decode(Path file) { return of(ImageDecoder.decodeRgb(file)); }

    /** From RGB (swaps the channels). */
    public static BgrImage of(RgbImage rgb) {
        byte[] s = rgb.rgb(), d = new byte[s.length];
        for (int i = 0; i < s.length; i += 3) {
            d[i] = s[i + 2];
            d[i + 1] = s[i + 1];
            d[i + 2] = s[i];
        }
        return new BgrImage(rgb.width(), rgb.height(), d);
    }

    /** Back to RGB. */
    public RgbImage toRgb() {
        byte[] d = new byte[bgr.length];
        for (int i = 0; i < d.length; i += 3) {
            d[i] = bgr[i + 2];
            d[i + 1] = bgr[i + 1];
            d[i + 2] = bgr[i];
        }
        return new RgbImage(width, height, d);
    }
}
