package dev.cvpt.data.seg;

import dev.cvpt.data.RgbImage;
import dev.cvpt.io.AtomicFiles;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.awt.image.IndexColorModel;
import java.io.IOException;
import java.nio.file.Path;

/**
 * Colour-mapped prediction PNGs, written with javax.imageio.
 * <ul>
 * <li>{@link #writeMask}: an 8-bit PALETTE PNG whose indices are the class ids and whose palette is
 *     the dataset's colours (ADE20K: mmseg's), so it shows in colour and the ids stay recoverable;
 *     ids without a colour (255 = ignore) are black.</li>
 * <li>{@link #writeOverlay}: mmseg {@code show_result(opacity=0.5)}: {@code img·0.5 + colour·0.5},
 *     truncated to uint8 (= (a + b) >> 1 per channel); pixels whose id has no colour blend with black.</li>
 * </ul>
 */
public final class Palette {
    private Palette() {}

    /** Writes the class map {@code pred} (h·w, row-major) as a palette PNG with {@code palette} ([K][3] RGB). */
    public static void writeMask(int[] pred, int h, int w, int[][] palette, Path png) throws IOException {
        check(pred, h, w);
        byte[] r = new byte[256], g = new byte[256], b = new byte[256];
        for (int i = 0; i < Math.min(palette.length, 255); i++) {
            r[i] = (byte) palette[i][0];
            g[i] = (byte) palette[i][1];
            b[i] = (byte) palette[i][2];
        }
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_INDEXED, new IndexColorModel(8, 256, r, g, b));
        byte[] px = ((DataBufferByte) img.getRaster().getDataBuffer()).getData();
        for (int i = 0; i < pred.length; i++) {
            int k = pred[i];
            px[i] = (byte) (k >= 0 && k < Math.min(palette.length, 255) ? k : 255);
        }
        write(img, png);
    }

    /** ADE20K's palette. */
    public static void writeMask(int[] pred, int h, int w, Path png) throws IOException { writeMask(pred, h, w, Ade20k.palette(), png); }

    /** The 50 % overlay of the colour-mapped {@code pred} on {@code image} (same size), as an RGB PNG. */
    public static void writeOverlay(RgbImage image, int[] pred, int[][] palette, Path png) throws IOException {
        int w = image.width(), h = image.height();
        check(pred, h, w);
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_3BYTE_BGR);
        byte[] px = ((DataBufferByte) out.getRaster().getDataBuffer()).getData();   // B, G, R per pixel
        byte[] rgb = image.rgb();
        for (int i = 0; i < pred.length; i++) {
            int k = pred[i];
            int[] c = k >= 0 && k < palette.length ? palette[k] : new int[]{0, 0, 0};
            for (int ch = 0; ch < 3; ch++) px[3 * i + 2 - ch] = (byte) (((rgb[3 * i + ch] & 0xff) + c[ch]) >> 1);
        }
        write(out, png);
    }

    private static void check(int[] pred, int h, int w) {
        if (pred.length != h * w) throw new IllegalArgumentException("prediction has " + pred.length + " pixels for " + h + "x" + w);
    }

    private static void write(BufferedImage img, Path png) throws IOException {
        AtomicFiles.write(png, out -> {
            if (!ImageIO.write(img, "png", out)) throw new IOException("no PNG writer in this Java runtime");
        });
    }
}
