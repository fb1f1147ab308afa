package dev.cvpt.data.seg;

import dev.cvpt.data.ImageDecodeException;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Iterator;

/**
 * Reads an annotation PNG as mmseg's {@code LoadAnnotations} does ({@code mmcv.imfrombytes(...,
 * flag='unchanged', backend='pillow')} → {@code np.array(Image.open(f))} → uint8): for an 8-bit grey
 * PNG (Pillow mode 'L') the stored values, as they are.
 *
 * <p>Everything else is refused with the reason, because mmseg would not read a label map from it:
 * RGB / RGBA (a colour-mapped visualisation: a 3-D array), grey + alpha, 16-bit or 1/2/4-bit grey (other
 * Pillow modes, values wrapped or scaled). A palette PNG (mode 'P') is a special case: mmseg reads its
 * palette INDICES as labels (Pillow's {@code np.array} of a 'P' image; that is the VOC convention), but
 * an ADE20K-layout annotation is a grey map, so a palette file there is most likely a colour
 * visualisation put in the wrong place; it is refused unless the caller allows indices
 * ({@code "palette_indices": true} in {@code dataset.json}).
 */
public final class LabelPng {
    private LabelPng() {}

    /** The PNG header: size, bit depth and colour type (0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA). */
    public record Header(int width, int height, int bitDepth, int colorType) {
        /** Why this cannot be a label map, or null when it can. */
        public String problem(boolean paletteIndices) {
            return switch (colorType) {
                case 0 -> bitDepth == 8 ? null : bitDepth + "-bit grey PNG; expected an 8-bit grey label map";
                case 3 -> paletteIndices ? (bitDepth == 8 ? null : bitDepth + "-bit palette PNG; expected 8-bit indices")
                        : "palette PNG (colour-mapped); expected an 8-bit grey label map (mmseg would read its palette indices"
                        + " as labels: set \"palette_indices\": true in dataset.json to accept them)";
                case 2 -> "RGB PNG (a colour-mapped mask?); expected an 8-bit grey label map";
                case 6 -> "RGBA PNG; expected an 8-bit grey label map";
                case 4 -> "grey+alpha PNG; expected an 8-bit grey label map";
                default -> "PNG colour type " + colorType + "; expected an 8-bit grey label map";
            };
        }
    }

    /** Reads the header only (33 bytes); an unreadable or non-PNG file is an {@link ImageDecodeException}. */
    public static Header header(Path file) {
        byte[] b = new byte[33];
        try (InputStream in = Files.newInputStream(file)) {
            int n = in.readNBytes(b, 0, b.length);
            return header(b, n, file);
        } catch (NoSuchFileException e) {
            throw new ImageDecodeException(file, "no such file");
        } catch (IOException e) {
            throw new ImageDecodeException(file, "cannot read: " + e.getMessage());
        }
    }

    private static Header header(byte[] b, int n, Path file) {
        if (n < 33 || (b[0] & 0xff) != 0x89 || b[1] != 'P' || b[2] != 'N' || b[3] != 'G' || b[12] != 'I' || b[13] != 'H')
            throw new ImageDecodeException(file, "not a PNG file; expected an 8-bit grey PNG label map");
        int w = ((b[16] & 0xff) << 24) | ((b[17] & 0xff) << 16) | ((b[18] & 0xff) << 8) | (b[19] & 0xff);
        int h = ((b[20] & 0xff) << 24) | ((b[21] & 0xff) << 16) | ((b[22] & 0xff) << 8) | (b[23] & 0xff);
        if (w <= 0 || h <= 0) throw new ImageDecodeException(file, "PNG header gives a size of " + w + "x" + h);
        return new Header(w, h, b[24] & 0xff, b[25] & 0xff);
    }

    /** Reads the label map; a file that is not an 8-bit grey PNG (see the class comment) is an {@link ImageDecodeException}. */
    public static LabelMap read(Path file, boolean paletteIndices) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new ImageDecodeException(file, "no such file");
        } catch (IOException e) {
            throw new ImageDecodeException(file, "cannot read: " + e.getMessage());
        }
        Header h = header(bytes, bytes.length, file);
        String bad = h.problem(paletteIndices);
        if (bad != null) throw new ImageDecodeException(file, bad);
        if ((long) h.width() * h.height() > dev.cvpt.data.ImageDecoder.MAX_PIXELS)
            throw new ImageDecodeException(file, "label map of " + h.width() + "x" + h.height() + " pixels exceeds the limit");
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(bytes))) {
            Iterator<ImageReader> it = ImageIO.getImageReadersByFormatName("png");
            ImageReader r = it.next();
            r.setInput(in, true, true);
            try {
                Raster ras = r.read(0).getRaster();     // raw samples: grey values or palette indices, no colour conversion
                int w = ras.getWidth(), hh = ras.getHeight();
                if (ras.getDataBuffer() instanceof java.awt.image.DataBufferByte db && ras.getNumBands() == 1
                        && ras.getSampleModel() instanceof java.awt.image.PixelInterleavedSampleModel sm
                        && sm.getPixelStride() == 1 && sm.getScanlineStride() == w && db.getNumBanks() == 1
                        && ras.getSampleModelTranslateX() == 0 && ras.getSampleModelTranslateY() == 0 && db.getOffset() == 0
                        && db.getData().length == w * hh)
                    return new LabelMap(w, hh, db.getData());   // 8-bit grey / indexed: the bytes as stored
                byte[] out = new byte[w * hh];
                int[] row = new int[w];
                for (int y = 0; y < hh; y++) {
                    ras.getSamples(ras.getMinX(), ras.getMinY() + y, w, 1, 0, row);
                    for (int x = 0; x < w; x++) out[y * w + x] = (byte) row[x];
                }
                return new LabelMap(w, hh, out);
            } finally {
                r.dispose();
            }
        } catch (IOException | RuntimeException e) {
            throw new ImageDecodeException(file, "not a readable PNG: " + e);
        }
    }
}
