package dev.cvpt.data;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import java.awt.image.BufferedImage;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Iterator;

/**
 * Decodes an image file to what Pillow's {@code Image.open(f).convert('RGB')} gives.
 *
 * <p>ImageIO does the entropy decoding; the conversion to RGB is ours, from raster samples, because
 * ImageIO's {@code getRGB} goes through colour management (a grey JPEG would come out
 * gamma-shifted) and refuses CMYK. Pillow's rules reproduced here: grey is replicated, alpha is
 * dropped (not composited), palettes are looked up, 16-bit samples keep their high byte except
 * 16-bit grey PNG, which Pillow opens as mode I and clips to 0..255, and CMYK JPEG is read with
 * Adobe inversion and converted with Pillow's {@code cmyk2rgb}. No EXIF orientation, no ICC.
 *
 * <p>JPEG bit-exactness rests on the decoder library: Debian's OpenJDK links the system libjpeg-turbo
 * (libjpeg.so.62), the same library as Debian's Pillow, so entropy decoding, the islow IDCT and fancy
 * upsampling agree by construction (verified for 4:4:4, 4:2:2, 4:2:0, 4:4:0, 4:1:1, progressive,
 * arithmetic and restart-marker files). A JDK with its bundled IJG 6b instead would differ on 4:4:0
 * (6b replicates rows where turbo interpolates) and cannot read arithmetic-coded files.
 */
public final class ImageDecoder {
    private ImageDecoder() {}

    static {
        ImageIO.setUseCache(false); // decode in memory, never through temp files
    }

    /** Decodes {@code file}; an unreadable or unsupported file is an {@link ImageDecodeException} naming it. */
    public static RgbImage decodeRgb(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new ImageDecodeException(file, "no such file");
        } catch (IOException e) {
            throw new ImageDecodeException(file, "cannot read: " + e.getMessage());
        }
        return decodeRgb(bytes, file);
    }

    /** Decodes bytes; {@code name} is only used in error messages. */
    public static RgbImage decodeRgb(byte[] bytes, Path name) { return decodeRgb(bytes, name, MAX_PIXELS); }

    /** Decodes bytes, refusing from the header an image of more than {@code maxPixels} pixels (a server's tighter bomb limit). */
    public static RgbImage decodeRgb(byte[] bytes, Path name, long maxPixels) {
        try {
            if (isJpeg(bytes)) return decodeJpeg(bytes, name, maxPixels);
            if (isPng(bytes)) return decodePng(bytes, name, maxPixels);
            return decodeOther(bytes, name, maxPixels);
        } catch (ImageDecodeException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new ImageDecodeException(name, "not a readable image: " + e);
        }
    }

    static boolean isJpeg(byte[] b) {
        return b.length > 3 && (b[0] & 0xff) == 0xFF && (b[1] & 0xff) == 0xD8 && (b[2] & 0xff) == 0xFF;
    }

    static boolean isPng(byte[] b) {
        return b.length > 33 && (b[0] & 0xff) == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G';
    }

    private static ImageReader reader(String format, ImageInputStream in, Path name) {
        Iterator<ImageReader> it = ImageIO.getImageReadersByFormatName(format);
        if (!it.hasNext()) throw new ImageDecodeException(name, "no " + format + " decoder in this Java runtime");
        ImageReader r = it.next();
        r.setInput(in, true, true);
        return r;
    }

    private static RgbImage decodeJpeg(byte[] bytes, Path name, long maxPixels) throws IOException {
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(bytes))) {
            ImageReader r = reader("jpeg", in, name);
            try {
                checkPixels(r, name, maxPixels);
                // readRaster: the decoder's own output colour space (RGB after libjpeg's YCbCr
                // conversion, grey, or CMYK), with no ICC conversion and no refusal of CMYK.
                // The raster is in the file's colour space, so we apply libjpeg's colour conversion
                // ourselves, after guessing that space by libjpeg-turbo's rules (what Pillow gets).
                Raster ras = r.readRaster(0, null);
                int bands = ras.getNumBands();
                JpegHeader hdr = JpegHeader.parse(bytes);
                return switch (bands) {
                    case 1 -> fromGray(ras, false);
                    case 3 -> hdr.transformedColor() ? fromYcc(ras) : fromBands(ras, 3);
                    case 4 -> fromCmyk(ras, hdr.transformedColor());
                    default -> throw new ImageDecodeException(name, "JPEG with " + bands + " components");
                };
            } finally {
                r.dispose();
            }
        }
    }

    private static RgbImage decodePng(byte[] bytes, Path name, long maxPixels) throws IOException {
        int bitDepth = bytes[24] & 0xff, colorType = bytes[25] & 0xff; // IHDR follows the 8-byte signature
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(bytes))) {
            ImageReader r = reader("png", in, name);
            try {
                checkPixels(r, name, maxPixels);
                BufferedImage im = r.read(0);
                // Java (11+) expands tRNS into an alpha band; the band count, not the colour type, says
                // where the colour is. Pillow opens 16-bit grey as mode I and convert('RGB') clips it.
                boolean clip16 = colorType == 0 && bitDepth == 16;
                return fromBuffered(im, clip16);
            } finally {
                r.dispose();
            }
        }
    }

    private static RgbImage decodeOther(byte[] bytes, Path name, long maxPixels) throws IOException {
        // as ImageIO.read, with the size checked before the pixels are allocated
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(bytes))) {
            Iterator<ImageReader> it = in == null ? null : ImageIO.getImageReaders(in);
            if (it == null || !it.hasNext()) throw new ImageDecodeException(name, "not a supported image format");
            ImageReader r = it.next();
            r.setInput(in, true, true);
            try {
                checkPixels(r, name, maxPixels);
                return fromBuffered(r.read(0, r.getDefaultReadParam()), false);
            } finally {
                r.dispose();
            }
        }
    }

    /**
     * Pillow's decompression-bomb limit ({@code 2 * Image.MAX_IMAGE_PIXELS}): larger images are refused
     * from the header, before the decoder allocates their pixels (a 200-byte PNG can claim 20000x20000).
     */
    public static final long MAX_PIXELS = 2L * 89_478_485;

    private static void checkPixels(ImageReader r, Path name, long maxPixels) throws IOException {
        long w = r.getWidth(0), h = r.getHeight(0);
        if (w <= 0 || h <= 0) throw new ImageDecodeException(name, "image header gives a size of " + w + "x" + h + " pixels");
        if (w * h > maxPixels)
            throw new ImageDecodeException(name, "image of " + w + "x" + h + " pixels exceeds the limit of " + maxPixels
                    + " pixels" + (maxPixels == MAX_PIXELS ? " (as Pillow's decompression-bomb check)" : ""));
    }

    private static RgbImage fromBuffered(BufferedImage im, boolean clip16) {
        Raster ras = im.getRaster();
        if (im.getColorModel() instanceof IndexColorModel icm) return fromPalette(ras, icm);
        if (im.getColorModel() instanceof ComponentColorModel) {
            int bands = ras.getNumBands();
            if (bands <= 2) return fromGray(ras, clip16);
            return fromBands(ras, 3);
        }
        // Packed pixels (BMP and the like): 8 bits per component in sRGB, getRGB is exact.
        int w = im.getWidth(), h = im.getHeight();
        byte[] out = new byte[3 * w * h];
        int[] row = new int[w];
        for (int y = 0; y < h; y++) {
            im.getRGB(0, y, w, 1, row, 0, w);
            for (int x = 0, o = y * w * 3; x < w; x++) {
                int p = row[x];
                out[o++] = (byte) (p >> 16);
                out[o++] = (byte) (p >> 8);
                out[o++] = (byte) p;
            }
        }
        return new RgbImage(w, h, out);
    }

    /** 8-bit value of one sample: 16-bit samples keep the high byte (Pillow's ;16B unpackers). */
    private static int[] to8(Raster ras, int band, int[] buf, int y) {
        int w = ras.getWidth();
        int[] s = ras.getSamples(ras.getMinX(), ras.getMinY() + y, w, 1, band, buf);
        int bits = ras.getSampleModel().getSampleSize(band);
        if (bits == 16) for (int i = 0; i < w; i++) s[i] >>= 8;
        else if (bits < 8) {
            int max = (1 << bits) - 1; // Pillow scales 1/2/4-bit grey to 0..255 (×255, ×85, ×17)
            for (int i = 0; i < w; i++) s[i] = s[i] * 255 / max;
        }
        return s;
    }

    private static RgbImage fromGray(Raster ras, boolean clip16) {
        int w = ras.getWidth(), h = ras.getHeight();
        byte[] out = new byte[3 * w * h];
        int[] buf = new int[w];
        for (int y = 0; y < h; y++) {
            int[] s;
            if (clip16) {
                s = ras.getSamples(ras.getMinX(), ras.getMinY() + y, w, 1, 0, buf);
                for (int i = 0; i < w; i++) s[i] = Math.min(s[i], 255);
            } else s = to8(ras, 0, buf, y);
            for (int x = 0, o = y * w * 3; x < w; x++) {
                byte v = (byte) s[x];
                out[o++] = v;
                out[o++] = v;
                out[o++] = v;
            }
        }
        return new RgbImage(w, h, out);
    }

    /** The first three bands as R, G, B (any further band is alpha and dropped, as Pillow does). */
    private static RgbImage fromBands(Raster ras, int n) {
        int w = ras.getWidth(), h = ras.getHeight();
        byte[] out = new byte[3 * w * h];
        if (ras.getTransferType() == DataBuffer.TYPE_BYTE && ras.getNumBands() == 3
                && ras.getMinX() == 0 && ras.getMinY() == 0) {
            // Fast path: pixel-interleaved bytes.
            ras.getDataElements(0, 0, w, h, out);
            return new RgbImage(w, h, out);
        }
        int[] buf = new int[w];
        for (int b = 0; b < n; b++) {
            for (int y = 0; y < h; y++) {
                int[] s = to8(ras, b, buf, y);
                for (int x = 0, o = y * w * 3 + b; x < w; x++, o += 3) out[o] = (byte) s[x];
            }
        }
        return new RgbImage(w, h, out);
    }

    private static RgbImage fromPalette(Raster ras, IndexColorModel icm) {
        int w = ras.getWidth(), h = ras.getHeight(), size = icm.getMapSize();
        // Pillow's palette starts as a grey ramp; indices past the file's palette read from it.
        byte[] r = new byte[256], g = new byte[256], b = new byte[256];
        for (int i = 0; i < 256; i++) r[i] = g[i] = b[i] = (byte) i;
        byte[] rr = new byte[size], gg = new byte[size], bb = new byte[size];
        icm.getReds(rr);
        icm.getGreens(gg);
        icm.getBlues(bb);
        System.arraycopy(rr, 0, r, 0, Math.min(size, 256));
        System.arraycopy(gg, 0, g, 0, Math.min(size, 256));
        System.arraycopy(bb, 0, b, 0, Math.min(size, 256));
        byte[] out = new byte[3 * w * h];
        int[] buf = new int[w];
        for (int y = 0; y < h; y++) {
            int[] s = ras.getSamples(ras.getMinX(), ras.getMinY() + y, w, 1, 0, buf);
            for (int x = 0, o = y * w * 3; x < w; x++) {
                int i = s[x] & 0xff;
                out[o++] = r[i];
                out[o++] = g[i];
                out[o++] = b[i];
            }
        }
        return new RgbImage(w, h, out);
    }

    /**
     * Pillow reads 4-component JPEG as "CMYK;I" (Adobe's inverted convention, always) and converts
     * with cmyk2rgb: nk = 255 − K, out = nk − MULDIV255(C, nk). With the inversion, nk is the raw K
     * sample and C = 255 − raw C.
     */
    private static RgbImage fromCmyk(Raster ras, boolean ycck) {
        int w = ras.getWidth(), h = ras.getHeight();
        byte[] out = new byte[3 * w * h];
        int[] px = new int[4];
        for (int y = 0; y < h; y++) {
            for (int x = 0, o = y * w * 3; x < w; x++) {
                ras.getPixel(ras.getMinX() + x, ras.getMinY() + y, px);
                if (ycck) ycckToCmyk(px);
                int nk = px[3];
                for (int c = 0; c < 3; c++) {
                    int cc = 255 - px[c];
                    int tmp = cc * nk + 128;
                    int v = nk - (((tmp >> 8) + tmp) >> 8);
                    out[o++] = (byte) Math.max(0, Math.min(255, v));
                }
            }
        }
        return new RgbImage(w, h, out);
    }

    /** libjpeg's ycck_cmyk_convert: YCC to RGB, inverted; K passes through. */
    private static void ycckToCmyk(int[] p) {
        int y = p[0], cb = p[1], cr = p[2];
        p[0] = 255 - clamp(y + CR_R[cr]);
        p[1] = 255 - clamp(y + ((CB_G[cb] + CR_G[cr]) >> 16));
        p[2] = 255 - clamp(y + CB_B[cb]);
    }

    /** libjpeg's ycc_rgb_convert (jdcolor.c; the same in IJG 6b and libjpeg-turbo): 16-bit fixed point tables. */
    private static RgbImage fromYcc(Raster ras) {
        int w = ras.getWidth(), h = ras.getHeight();
        byte[] ycc = new byte[3 * w * h];
        if (ras.getTransferType() == DataBuffer.TYPE_BYTE && ras.getMinX() == 0 && ras.getMinY() == 0) {
            ras.getDataElements(0, 0, w, h, ycc);
        } else {
            ycc = fromBands(ras, 3).rgb();
        }
        for (int i = 0; i < ycc.length; i += 3) {
            int y = ycc[i] & 0xff, cb = ycc[i + 1] & 0xff, cr = ycc[i + 2] & 0xff;
            ycc[i] = (byte) clamp(y + CR_R[cr]);
            ycc[i + 1] = (byte) clamp(y + ((CB_G[cb] + CR_G[cr]) >> 16));
            ycc[i + 2] = (byte) clamp(y + CB_B[cb]);
        }
        return new RgbImage(w, h, ycc);
    }

    private static final int[] CR_R = new int[256], CB_B = new int[256], CR_G = new int[256], CB_G = new int[256];

    static {
        final int half = 1 << 15;
        for (int i = 0; i < 256; i++) {
            int x = i - 128;
            CR_R[i] = (fix(1.40200) * x + half) >> 16;
            CB_B[i] = (fix(1.77200) * x + half) >> 16;
            CR_G[i] = -fix(0.71414) * x;
            CB_G[i] = -fix(0.34414) * x + half;
        }
    }

    private static int fix(double x) { return (int) (x * 65536 + 0.5); }

    private static int clamp(int v) { return v < 0 ? 0 : Math.min(v, 255); }

    /**
     * What libjpeg-turbo's default_decompress_parms looks at to choose the colour space: JFIF and
     * Adobe markers and the component ids.
     */
    record JpegHeader(boolean jfif, int adobeTransform, int[] componentIds) {
        /** True for YCbCr (3 components) or YCCK (4 components) by libjpeg-turbo's guess. */
        boolean transformedColor() {
            int n = componentIds.length;
            if (n == 3) {
                if (jfif) return true;
                if (adobeTransform >= 0) return adobeTransform != 0;
                return !(componentIds[0] == 'R' && componentIds[1] == 'G' && componentIds[2] == 'B');
            }
            if (n == 4) return adobeTransform > 0; // no Adobe marker: plain CMYK
            return false;
        }

        static JpegHeader parse(byte[] b) {
            boolean jfif = false;
            int adobe = -1;
            int[] ids = new int[0];
            int i = 2;
            while (i + 4 <= b.length) {
                if ((b[i] & 0xff) != 0xFF) break;
                int marker = b[i + 1] & 0xff;
                if (marker == 0xFF) { i++; continue; } // fill byte
                if (marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) { i += 2; continue; }
                int len = ((b[i + 2] & 0xff) << 8) | (b[i + 3] & 0xff);
                int p = i + 4, end = Math.min(b.length, i + 2 + len);
                if (marker == 0xE0 && end - p >= 5 && b[p] == 'J' && b[p + 1] == 'F' && b[p + 2] == 'I' && b[p + 3] == 'F' && b[p + 4] == 0)
                    jfif = true;
                else if (marker == 0xEE && end - p >= 12 && b[p] == 'A' && b[p + 1] == 'd' && b[p + 2] == 'o' && b[p + 3] == 'b' && b[p + 4] == 'e')
                    adobe = b[p + 11] & 0xff;
                else if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC && end - p >= 6) {
                    int n = b[p + 5] & 0xff;
                    ids = new int[n];
                    for (int c = 0; c < n && p + 6 + 3 * c < end; c++) ids[c] = b[p + 6 + 3 * c] & 0xff;
                }
                if (marker == 0xDA) break;
                i += 2 + len;
            }
            return new JpegHeader(jfif, adobe, ids);
        }
    }
}
