package dev.cvpt.data.seg;

import dev.cvpt.data.DataException;
import dev.cvpt.synth.SegSynth;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Opening the ADE layout, dataset.json, and every kind of bad input (one line naming the file, or skipped with skipBad). */
class SegDatasetTest {
    @TempDir static Path tmp;
    static Path clean;

    @BeforeAll
    static void write() throws IOException { clean = SegSynth.write(tmp.resolve("clean"), 6, 3, 7); }

    static Path copy(String name) throws IOException {
        Path dst = tmp.resolve(name);
        try (Stream<Path> s = Files.walk(clean)) {
            for (Path p : s.sorted(Comparator.naturalOrder()).toList()) {
                Path t = dst.resolve(clean.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(t);
                else Files.copy(p, t);
            }
        }
        return dst;
    }

    static Path ann(Path root, int i) { return root.resolve("annotations/training").resolve(String.format("%06d.png", i)); }

    static void grey(Path file, int w, int h, int value) throws IOException {
        BufferedImage b = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) b.getRaster().setSample(x, y, 0, value);
        ImageIO.write(b, "png", file.toFile());
    }

    static int[] size(Path png) throws IOException {
        BufferedImage b = ImageIO.read(png.toFile());
        return new int[]{b.getWidth(), b.getHeight()};
    }

    @Test
    void opensTheSyntheticTaskWithItsMeta() {
        SegDataset ds = SegDataset.open(clean, "training", false);
        assertEquals(6, ds.size());
        assertEquals(4, ds.numClasses());
        assertTrue(ds.reduceZeroLabel());
        assertEquals(SegSynth.CLASSES, ds.classNames());
        assertEquals(0, ds.skipped());
        assertEquals(clean.resolve("annotations/training/000000.png"), ds.annotation(0));
        assertEquals(clean.resolve("images/training/000005.png"), ds.image(5));
        assertEquals(3, SegDataset.open(clean, "val", false).size());
        LabelMap raw = ds.loadRawLabel(0), red = ds.loadLabel(0);
        BgrImage img = ds.loadImage(0);
        assertEquals(img.width(), raw.width());
        for (int i = 0; i < raw.values().length; i++) {
            int r = raw.values()[i] & 0xff, c = red.values()[i] & 0xff;
            assertTrue(r <= 4);
            assertEquals(r == 0 ? 255 : r - 1, c);
        }
    }

    @Test
    void adeDefaultsWithoutDatasetJson() throws IOException {
        Path root = tmp.resolve("ade");
        Files.createDirectories(root);
        SegDataset.Meta m = SegDataset.readMeta(root);
        assertEquals(150, m.numClasses());
        assertTrue(m.reduceZeroLabel());
        assertEquals("wall", m.classNames().get(0));
        assertEquals("flag", m.classNames().get(149));
        assertEquals(".jpg", m.imgSuffix());
        assertEquals(120, m.palette()[0][0]);
    }

    /** Each bad case alone: the open fails with a message naming the file and the reason. */
    @Test
    void eachBadCaseNamesTheFile() throws IOException {
        Path a = copy("size");
        int[] wh = size(ann(a, 1));
        grey(ann(a, 1), wh[0] + 3, wh[1], 1);
        expect(a, ann(a, 1), "label map is " + (wh[0] + 3) + "x" + wh[1] + " but its image 000001.png is " + wh[0] + "x" + wh[1]);

        Path b = copy("range");
        wh = size(ann(b, 2));
        grey(ann(b, 2), wh[0], wh[1], 9);
        expect(b, ann(b, 2), "label 9 at (x 0, y 0) is above the class count (4 classes with reduce_zero_label: raw ids 0..4 and 255 = ignore)");

        Path c = copy("missing");
        Files.delete(ann(c, 3));
        expect(c, ann(c, 3), "missing annotation for image");

        Path d = copy("palette");
        wh = size(ann(d, 4));
        byte[] r = new byte[256], g = new byte[256], bl = new byte[256];
        r[1] = (byte) 200;
        BufferedImage p = new BufferedImage(wh[0], wh[1], BufferedImage.TYPE_BYTE_INDEXED, new IndexColorModel(8, 256, r, g, bl));
        ImageIO.write(p, "png", ann(d, 4).toFile());
        expect(d, ann(d, 4), "palette PNG (colour-mapped); expected an 8-bit grey label map");

        Path e = copy("rgb");
        wh = size(ann(e, 5));
        ImageIO.write(new BufferedImage(wh[0], wh[1], BufferedImage.TYPE_INT_RGB), "png", ann(e, 5).toFile());
        expect(e, ann(e, 5), "RGB PNG (a colour-mapped mask?)");

        Path f = copy("notpng");
        Files.writeString(ann(f, 0), "not an image");
        expect(f, ann(f, 0), "not a PNG file");
    }

    static void expect(Path root, Path file, String reason) {
        DataException ex = assertThrows(DataException.class, () -> SegDataset.open(root, "training", false));
        assertEquals(1, ex.problems().size(), ex.getMessage());
        String line = ex.problems().get(0);
        assertTrue(line.startsWith(file.toString() + ": "), line);
        assertTrue(line.contains(reason), line);
        assertTrue(ex.getMessage().contains("--skip-bad"), ex.getMessage());
    }

    @Test
    void skipBadCountsAndLeavesOut() throws IOException {
        Path x = copy("many");
        int[] wh = size(ann(x, 1));
        grey(ann(x, 1), wh[0], wh[1] + 1, 1);
        wh = size(ann(x, 2));
        grey(ann(x, 2), wh[0], wh[1], 200);
        Files.delete(ann(x, 3));
        DataException ex = assertThrows(DataException.class, () -> SegDataset.open(x, "training", false));
        assertEquals(3, ex.problems().size());
        SegDataset ds = SegDataset.open(x, "training", true);
        assertEquals(3, ds.size());
        assertEquals(3, ds.skipped());
        assertEquals(3, ds.problems().size());
        assertEquals(List.of(0, 4, 5), Stream.of(0, 1, 2).map(i -> Integer.parseInt(ds.image(i).getFileName().toString().substring(0, 6))).toList());
    }

    @Test
    void valuesCheckedAtLoadWhenNotScanned() throws IOException {
        Path x = copy("lazy");
        int[] wh = size(ann(x, 2));
        grey(ann(x, 2), wh[0], wh[1], 77);
        SegDataset ds = SegDataset.open(x, "training", new SegDataset.Options(false, false, 1));
        assertEquals(6, ds.size());
        DataException ex = assertThrows(DataException.class, () -> ds.loadRawLabel(2));
        assertTrue(ex.getMessage().startsWith(ann(x, 2) + ": label 77 at"), ex.getMessage());
    }

    @Test
    void badLayoutAndJson() throws IOException {
        DataException ex = assertThrows(DataException.class, () -> SegDataset.open(tmp.resolve("nowhere"), "training", false));
        assertTrue(ex.getMessage().contains("no such dataset folder"));
        ex = assertThrows(DataException.class, () -> SegDataset.open(clean, "test", false));
        assertTrue(ex.getMessage().contains("unknown split 'test'"));
        Path j = copy("json");
        Files.writeString(j.resolve("dataset.json"), "{\"num_classes\": 3, \"classes\": [\"a\", \"b\"]}");
        ex = assertThrows(DataException.class, () -> SegDataset.open(j, "training", false));
        assertTrue(ex.getMessage().startsWith(j.resolve("dataset.json") + ": 2 class names for num_classes 3"), ex.getMessage());
    }
}
