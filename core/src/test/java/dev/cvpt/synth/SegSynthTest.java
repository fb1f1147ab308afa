package dev.cvpt.synth;

import dev.cvpt.data.seg.Palette;
import dev.cvpt.data.RgbImage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SegSynthTest {
    @TempDir Path tmp;

    static int chroma(int rgb) {
        int r = (rgb >> 16) & 255, g = (rgb >> 8) & 255, b = rgb & 255;
        return Math.max(r, Math.max(g, b)) - Math.min(r, Math.min(g, b));
    }

    @Test
    void masksAgreeWithThePixelsAndEveryClassAppears() {
        int[] seen = new int[5];
        boolean nonSquare = false;
        for (int i = 0; i < 40; i++) {
            SegSynth.Scene s = SegSynth.render(1, "training", i, 64, 96);
            assertTrue(s.width() >= 64 && s.width() <= 96 && s.height() >= 64 && s.height() <= 96);
            nonSquare |= s.width() != s.height();
            for (int p = 0; p < s.ids().length; p++) {
                int id = s.ids()[p];
                seen[id]++;
                // objects are vivid (chroma >= 0.7 * 0.75 * 255), background and lines muted (<= 2 * 20 + noise clamp)
                if (id > 0) assertTrue(chroma(s.rgb()[p]) >= 130, "object pixel " + p + " of image " + i);
                else assertTrue(chroma(s.rgb()[p]) <= 45, "background pixel " + p + " of image " + i);
            }
        }
        assertTrue(nonSquare);
        for (int k = 0; k < 5; k++) assertTrue(seen[k] > 0, "raw id " + k + " never drawn");
    }

    static String hashTree(Path root) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.filter(Files::isRegularFile).sorted().toList()) {
                md.update(root.relativize(p).toString().getBytes());
                md.update(Files.readAllBytes(p));
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    @Test
    void deterministicAndKeptWhenUpToDate() throws Exception {
        Path a = SegSynth.write(tmp.resolve("a"), 4, 2, 9), b = SegSynth.write(tmp.resolve("b"), 4, 2, 9);
        assertEquals(hashTree(a), hashTree(b));
        long t = Files.getLastModifiedTime(a.resolve("dataset.json")).toMillis();
        SegSynth.write(tmp.resolve("a"), 4, 2, 9);
        assertEquals(t, Files.getLastModifiedTime(a.resolve("dataset.json")).toMillis());
        Path c = SegSynth.write(tmp.resolve("c"), 4, 2, 10);
        assertNotEquals(hashTree(a), hashTree(c));
        // annotations are 8-bit grey PNGs
        BufferedImage ann = ImageIO.read(a.resolve("annotations/training/000000.png").toFile());
        assertEquals(BufferedImage.TYPE_BYTE_GRAY, ann.getType());
    }

    @Test
    void cliWritesTheTaskAndRefusesBadSides() throws Exception {
        Path out = tmp.resolve("cli");
        assertEquals(0, dev.cvpt.cli.Main.execute("synth", "--segmentation", "--out", out.toString(), "--train", "3", "--val", "2", "--seed", "4"));
        assertEquals(hashTree(SegSynth.write(tmp.resolve("api"), 3, 2, 4)), hashTree(out));
        dev.cvpt.data.seg.SegDataset ds = dev.cvpt.data.seg.SegDataset.open(out, "validation", false);
        assertEquals(2, ds.size());
        assertEquals(2, dev.cvpt.cli.Main.execute("synth", "--segmentation", "--out", tmp.resolve("bad").toString(), "--min-side", "100", "--max-side", "50"));
        assertTrue(Files.notExists(tmp.resolve("bad")));
        Files.createDirectories(tmp.resolve("foreign"));
        Files.writeString(tmp.resolve("foreign/keep.txt"), "mine");
        assertEquals(2, dev.cvpt.cli.Main.execute("synth", "--segmentation", "--out", tmp.resolve("foreign").toString(), "--train", "1", "--val", "1"));
        assertEquals("mine", Files.readString(tmp.resolve("foreign/keep.txt")));
    }

    @Test
    void paletteMaskKeepsIdsAndOverlayIsHalfBlend() throws Exception {
        SegSynth.Scene s = SegSynth.render(2, "validation", 0, 64, 80);
        int n = s.ids().length;
        int[] pred = new int[n];
        for (int i = 0; i < n; i++) pred[i] = s.ids()[i] == 0 ? 255 : s.ids()[i] - 1;
        Path mask = tmp.resolve("m.png"), over = tmp.resolve("o.png");
        Palette.writeMask(pred, s.height(), s.width(), SegSynth.PALETTE, mask);
        BufferedImage m = ImageIO.read(mask.toFile());
        assertTrue(m.getColorModel() instanceof IndexColorModel);
        for (int i = 0; i < n; i++) assertEquals(pred[i], m.getRaster().getSample(i % s.width(), i / s.width(), 0));
        for (int i = 0; i < n; i += 5) {
            int[] c = pred[i] == 255 ? new int[]{0, 0, 0} : SegSynth.PALETTE[pred[i]];
            assertEquals((c[0] << 16) | (c[1] << 8) | c[2], m.getRGB(i % s.width(), i / s.width()) & 0xffffff, "mask colour " + i);
        }

        byte[] rgb = new byte[3 * n];
        for (int i = 0; i < n; i++) { rgb[3 * i] = (byte) (s.rgb()[i] >> 16); rgb[3 * i + 1] = (byte) (s.rgb()[i] >> 8); rgb[3 * i + 2] = (byte) s.rgb()[i]; }
        Palette.writeOverlay(new RgbImage(s.width(), s.height(), rgb), pred, SegSynth.PALETTE, over);
        BufferedImage o = ImageIO.read(over.toFile());
        for (int i = 0; i < n; i += 7) {
            int[] c = pred[i] == 255 ? new int[]{0, 0, 0} : SegSynth.PALETTE[pred[i]];
            int want = ((((rgb[3 * i] & 255) + c[0]) >> 1) << 16) | ((((rgb[3 * i + 1] & 255) + c[1]) >> 1) << 8) | (((rgb[3 * i + 2] & 255) + c[2]) >> 1);
            assertEquals(want, o.getRGB(i % s.width(), i / s.width()) & 0xffffff, "pixel " + i);
        }
    }
}
