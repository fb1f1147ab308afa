package dev.cvpt.synth;

import dev.cvpt.UserException;
import dev.cvpt.cli.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

class WriteTest {
    static final Pattern LINE = Pattern.compile("(images/(train|val|test)/(\\d{6})\\.png) (\\d+)");

    record Entry(String path, String split, int index, int label) {}

    static List<Entry> parse(Path list) throws IOException {
        List<Entry> out = new ArrayList<>();
        for (String l : Files.readAllLines(list)) {
            Matcher m = LINE.matcher(l);
            assertTrue(m.matches(), list.getFileName() + ": bad line '" + l + "'");
            out.add(new Entry(m.group(1), m.group(2), Integer.parseInt(m.group(3)), Integer.parseInt(m.group(4))));
        }
        return out;
    }

    /** The acceptance variant: colour, 4 classes, 200 train + 200 test images of 48 px. */
    @Test
    void writesTheColourTaskInTheVtabLayout(@TempDir Path root) throws Exception {
        Path dir = SyntheticTasks.write(root, "colour", 48, 0, 200, 0, 200, 2);
        assertEquals(root.resolve("colour"), dir);
        List<Entry> train = parse(dir.resolve("train800.txt")), val = parse(dir.resolve("val200.txt")),
                both = parse(dir.resolve("train800val200.txt")), test = parse(dir.resolve("test.txt"));
        assertEquals(200, train.size());
        assertEquals(0, val.size());
        assertEquals(train, both);
        assertEquals(200, test.size());
        for (List<Entry> split : List.of(train, test)) {
            int[] perClass = new int[4];
            for (Entry e : split) perClass[e.label()]++;
            assertArrayEquals(new int[]{50, 50, 50, 50}, perClass);
        }
        int agree = 0;
        for (Entry e : test) {
            Path f = dir.resolve(e.path());
            byte[] bytes = Files.readAllBytes(f);
            // PNG IHDR: bit depth 8, colour type 2 (RGB, no alpha)
            assertEquals(8, bytes[24]);
            assertEquals(2, bytes[25]);
            BufferedImage img = ImageIO.read(f.toFile());
            assertEquals(48, img.getWidth());
            assertEquals(48, img.getHeight());
            if (Oracles.colour(img) == e.label()) agree++;
        }
        assertTrue(agree >= 190, "oracle agrees on " + agree + "/200 images read back from disk");
        // the files hold exactly the rendered pixels
        for (Entry e : List.of(train.get(0), train.get(199), test.get(77))) {
            Sample s = SyntheticTasks.render("colour", 48, 0, e.split(), e.index());
            assertEquals(s.label(), e.label());
            BufferedImage img = ImageIO.read(dir.resolve(e.path()).toFile());
            for (int y = 0; y < 48; y++)
                for (int x = 0; x < 48; x++)
                    assertEquals(s.image().getRGB(x, y), img.getRGB(x, y), e.path() + " at " + x + "," + y);
        }
        assertTrue(Files.readString(dir.resolve(SyntheticTasks.META_FILE)).contains("\"seed\" : 0"));
        try (Stream<Path> s = Files.list(root)) {
            assertEquals(List.of(dir), s.toList(), "no temporary folders left");
        }
    }

    @Test
    void sameBytesWhateverTheThreadCount(@TempDir Path root) throws Exception {
        Path a = SyntheticTasks.write(root.resolve("a"), "count", 32, 5, 12, 6, 10, 1);
        Path b = SyntheticTasks.write(root.resolve("b"), "count", 32, 5, 12, 6, 10, 3);
        TreeMap<String, byte[]> fa = files(a), fb = files(b);
        assertEquals(fa.keySet(), fb.keySet());
        assertEquals(12 + 6 + 10 + 5, fa.size());
        for (String k : fa.keySet()) assertArrayEquals(fa.get(k), fb.get(k), k);
        assertEquals(18, parse(a.resolve("train800val200.txt")).size());
        assertEquals("images/val/000000.png 0", Files.readAllLines(a.resolve("val200.txt")).get(0));
        assertEquals("images/train/000005.png 1", Files.readAllLines(a.resolve("train800.txt")).get(5));
    }

    @Test
    void keepsAnUpToDateFolderAndReplacesAStaleOne(@TempDir Path root) throws Exception {
        Path dir = SyntheticTasks.write(root, "orientation", 32, 1, 8, 4, 8, 2);
        Path img = dir.resolve("images/train/000003.png");
        FileTime old = FileTime.fromMillis(1_000_000_000_000L);
        Files.setLastModifiedTime(img, old);
        assertTrue(SyntheticTasks.isUpToDate(root, "orientation", 32, 1, 8, 4, 8));
        SyntheticTasks.write(root, "orientation", 32, 1, 8, 4, 8, 2);
        assertEquals(old, Files.getLastModifiedTime(img), "an identical complete folder is kept");

        Files.writeString(dir.resolve("marker"), "x");
        assertFalse(SyntheticTasks.isUpToDate(root, "orientation", 32, 2, 8, 4, 8));
        SyntheticTasks.write(root, "orientation", 32, 2, 8, 4, 8, 2);
        assertFalse(Files.exists(dir.resolve("marker")), "other parameters: the folder is replaced");
        assertTrue(Files.readString(dir.resolve(SyntheticTasks.META_FILE)).contains("\"seed\" : 2"));

        Files.delete(dir.resolve("test.txt"));     // incomplete: regenerated
        assertFalse(SyntheticTasks.isUpToDate(root, "orientation", 32, 2, 8, 4, 8));
        SyntheticTasks.write(root, "orientation", 32, 2, 8, 4, 8, 2);
        assertEquals(8, parse(dir.resolve("test.txt")).size());
        try (Stream<Path> s = Files.list(root)) {
            assertEquals(List.of(dir), s.toList(), "no temporary or old folders left");
        }
    }

    @Test
    void refusesToReplaceAForeignFolder(@TempDir Path root) throws Exception {
        Path dir = Files.createDirectories(root.resolve("colour"));
        Files.writeString(dir.resolve("mine.txt"), "keep me");
        UserException e = assertThrows(UserException.class, () -> SyntheticTasks.write(root, "colour", 32, 0, 4, 0, 4));
        assertTrue(e.getMessage().contains("synthetic.json"), e.getMessage());
        assertTrue(Files.exists(dir.resolve("mine.txt")));
        assertThrows(UserException.class, () -> SyntheticTasks.write(root, "count", 32, 0, -1, 0, 4));
    }

    @Test
    void commandLine(@TempDir Path root) throws Exception {
        assertEquals(Main.OK, Main.execute("synth", "--task", "colour,pretrain", "--size", "32", "--train", "8",
                "--val", "4", "--test", "8", "--seed", "3", "--out", root.toString()));
        assertEquals(8, parse(root.resolve("colour/train800.txt")).size());
        assertEquals(4, parse(root.resolve("pretrain/val200.txt")).size());
        assertTrue(SyntheticTasks.isUpToDate(root, "pretrain", 32, 3, 8, 4, 8));
        assertEquals(Main.OK, Main.execute("synth", "--list"));
        assertEquals(Main.BAD_INPUT, Main.execute("synth", "--task", "nope", "--out", root.toString()));
        assertEquals(Main.BAD_INPUT, Main.execute("synth", "--task", "count", "--size", "8", "--out", root.toString()));
        assertEquals(Main.BAD_INPUT, Main.execute("synth", "--task", "count"));
    }

    static TreeMap<String, byte[]> files(Path dir) throws IOException {
        TreeMap<String, byte[]> m = new TreeMap<>();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) m.put(dir.relativize(p).toString(), Files.readAllBytes(p));
        }
        return m;
    }
}
