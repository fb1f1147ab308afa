package dev.cvpt.data;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class DatasetsTest {
    @TempDir Path tmp;

    /** A small RGB PNG whose colour encodes {@code v}. */
    static void png(Path p, int w, int h, int v) throws IOException {
        Files.createDirectories(p.getParent());
        BufferedImage im = new BufferedImage(w, h, BufferedImage.TYPE_3BYTE_BGR);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) im.setRGB(x, y, (v * 37 + x * 5) << 16 | (y * 7) << 8 | v);
        ImageIO.write(im, "png", p.toFile());
    }

    Path cifar;

    @BeforeEach
    void setUp() throws IOException {
        cifar = tmp.resolve("vtab-1k/cifar");
        for (int i = 0; i < 6; i++) png(cifar.resolve("images/" + i + ".png"), 20 + i, 17, i);
    }

    @Test
    void vtabGoodSplit() throws IOException {
        Files.writeString(cifar.resolve("train800.txt"), "images/0.png 3\nimages/1.png 99\n\nimages/2.png 0\n");
        Dataset d = VtabDataset.open(cifar, "train800", DatasetOptions.defaults());
        assertEquals("cifar", d.name());
        assertEquals(100, d.numClasses());
        assertEquals(3, d.size());
        assertEquals(List.of(3, 99, 0), d.samples().stream().map(Sample::label).toList());
        assertEquals(cifar.resolve("images/1.png").toAbsolutePath().normalize(), d.samples().get(1).path());
        assertTrue(d.samples().get(2).source().endsWith("train800.txt:4"), d.samples().get(2).source());
        assertEquals(0, d.skipped());
    }

    @Test
    void vtabListsEveryProblem() throws IOException {
        Files.writeString(cifar.resolve("test.txt"), String.join("\n",
                "images/0.png 1",
                "images/missing.png 2",
                "justonefield",
                "images/1.png seven",
                "../../../../etc/passwd 1",
                "images/2.png 100",
                "images/3.png -1",
                "/etc/hostname 4",
                "images/4.png 5"));
        DataException e = assertThrows(DataException.class, () -> VtabDataset.open(cifar, "test", DatasetOptions.defaults()));
        List<String> p = e.problems();
        assertEquals(7, p.size(), String.join("\n", p));
        String list = cifar.resolve("test.txt").toAbsolutePath().normalize().toString();
        assertTrue(p.get(0).startsWith(list + ":2: missing file"), p.get(0));
        assertTrue(p.get(1).startsWith(list + ":3: malformed line"), p.get(1));
        assertTrue(p.get(2).startsWith(list + ":4: malformed label 'seven'"), p.get(2));
        assertTrue(p.get(3).startsWith(list + ":5: path '../../../../etc/passwd' escapes"), p.get(3));
        assertTrue(p.get(4).startsWith(list + ":6: label 100 out of range 0..99"), p.get(4));
        assertTrue(p.get(5).startsWith(list + ":7: label -1 out of range"), p.get(5));
        assertTrue(p.get(6).startsWith(list + ":8: absolute path"), p.get(6));
        for (String s : p) assertTrue(e.getMessage().contains(s));
        assertInstanceOf(dev.cvpt.UserException.class, e);

        Dataset d = VtabDataset.open(cifar, "test", DatasetOptions.defaults().withSkipBad(true));
        assertEquals(2, d.size());
        assertEquals(7, d.skipped());
        assertEquals(p, d.problems());
        assertEquals(List.of(1, 5), d.samples().stream().map(Sample::label).toList());
    }

    @Test
    void emptySplitIsFatalEvenWhenSkipping() throws IOException {
        Files.writeString(cifar.resolve("val200.txt"), "\n\n");
        DataException e = assertThrows(DataException.class, () -> VtabDataset.open(cifar, "val200", DatasetOptions.defaults()));
        assertTrue(e.getMessage().contains("empty"), e.getMessage());
        Files.writeString(cifar.resolve("val200.txt"), "images/missing.png 1\n");
        e = assertThrows(DataException.class, () -> VtabDataset.open(cifar, "val200", DatasetOptions.defaults().withSkipBad(true)));
        assertEquals(2, e.problems().size(), e.getMessage());
        assertTrue(e.problems().get(1).endsWith("empty split: no usable samples"));
    }

    @Test
    void classCountMustAgreeWithKnownTask() throws IOException {
        Files.writeString(cifar.resolve("train800.txt"), "images/0.png 3\n");
        DataException e = assertThrows(DataException.class,
                () -> VtabDataset.open(cifar, "train800", DatasetOptions.defaults().withNumClasses(10)));
        assertTrue(e.problems().get(0).contains("task cifar has 100 classes, but 10 were asked for"), e.getMessage());
        assertThrows(DataException.class, () -> VtabDataset.open(cifar, "train800", DatasetOptions.defaults().withTask("cifar10")));
        assertThrows(DataException.class, () -> VtabDataset.open(cifar, "nosuchsplit", DatasetOptions.defaults()));
    }

    @Test
    void unknownTaskTakesClassCountFromLabels() throws IOException {
        Path mine = tmp.resolve("mytask");
        png(mine.resolve("a b.png"), 5, 5, 1);
        Files.writeString(mine.resolve("train800val200.txt"), "a b.png 4\r\n");
        Dataset d = VtabDataset.open(mine, "train800val200", DatasetOptions.defaults());
        assertEquals(5, d.numClasses());
        assertEquals(mine.resolve("a b.png").toAbsolutePath().normalize(), d.samples().get(0).path());
    }

    @Test
    void taskTable() {
        assertEquals(7, VtabTask.inGroup(VtabTask.Group.NATURAL).size());
        assertEquals(4, VtabTask.inGroup(VtabTask.Group.SPECIALIZED).size());
        assertEquals(8, VtabTask.inGroup(VtabTask.Group.STRUCTURED).size());
        assertEquals(VtabTask.SUN397, VtabTask.inGroup(VtabTask.Group.NATURAL).get(6));
        assertEquals(VtabTask.PATCH_CAMELYON, VtabTask.inGroup(VtabTask.Group.SPECIALIZED).get(0));
        VtabTask dmlab = VtabTask.byId("dmlab").orElseThrow();
        assertEquals(6, dmlab.numClasses());
        assertEquals(2e-3, dmlab.lr());
        assertEquals(200, dmlab.prompts());
        assertEquals(1e-2, VtabTask.byId("svhn").orElseThrow().lr());
        assertEquals(1, VtabTask.PATCH_CAMELYON.prompts());
        int sum = 0;
        for (VtabTask t : VtabTask.values()) sum += t.numClasses();
        assertEquals(100 + 102 + 47 + 102 + 37 + 10 + 397 + 2 + 10 + 45 + 5 + 8 + 6 + 6 + 4 + 16 + 16 + 18 + 9, sum);
        assertEquals(FgvcTask.NABIRDS, FgvcTask.byId("nabirds").orElseThrow());
        assertEquals(FgvcTask.CUB, FgvcTask.byId("CUB_200_2011").orElseThrow());
        assertEquals(5e-4, FgvcTask.CUB.lr());
        assertEquals(100, FgvcTask.STANFORD_CARS.prompts());
    }

    @Test
    void fgvcRemapsSortedIdsAndReportsLines() throws IOException {
        Path d = tmp.resolve("myfgvc");
        for (int i = 0; i < 4; i++) png(d.resolve("imgs/" + i + ".jpg.png"), 9, 9, i);
        Files.writeString(d.resolve("train.json"), "{\n \"imgs/0.jpg.png\": 17,\n \"imgs/1.jpg.png\": 3,\n \"imgs/2.jpg.png\": \"9\"\n}\n");
        Files.writeString(d.resolve("test.json"), "{\"imgs/3.jpg.png\": 11}");
        Dataset train = FgvcDataset.open(d, "train", DatasetOptions.defaults());
        // union of ids {3, 9, 11, 17} sorted numerically → 0..3
        assertEquals(List.of(3, 0, 1), train.samples().stream().map(Sample::label).toList());
        assertEquals(List.of("3", "9", "11", "17"), train.classNames());
        assertEquals(2, FgvcDataset.open(d, "test", DatasetOptions.defaults()).samples().get(0).label());

        Files.writeString(d.resolve("val.json"), "{\n \"imgs/0.jpg.png\": 3,\n \"../../x.png\": 3,\n \"imgs/nope.png\": 9,\n \"imgs/1.jpg.png\": [1]\n}");
        DataException e = assertThrows(DataException.class, () -> FgvcDataset.open(d, "val", DatasetOptions.defaults()));
        assertEquals(3, e.problems().size(), e.getMessage());
        String val = d.resolve("val.json").toAbsolutePath().normalize().toString();
        assertTrue(e.problems().stream().anyMatch(s -> s.startsWith(val + ":5: malformed label")), e.getMessage());
        assertTrue(e.problems().stream().anyMatch(s -> s.startsWith(val + ":3: path '../../x.png' escapes")), e.getMessage());
        assertTrue(e.problems().stream().anyMatch(s -> s.startsWith(val + ":4: missing file")), e.getMessage());
        Dataset v = FgvcDataset.open(d, "val", DatasetOptions.defaults().withSkipBad(true));
        assertEquals(1, v.size());
        assertEquals(3, v.skipped());

        Files.writeString(d.resolve("val.json"), "{\"imgs/0.jpg.png\": 3,");
        e = assertThrows(DataException.class, () -> FgvcDataset.open(d, "val", DatasetOptions.defaults()));
        assertTrue(e.getMessage().contains("malformed JSON"), e.getMessage());
    }

    @Test
    void imageFolderSortsClasses() throws IOException {
        Path f = tmp.resolve("folder");
        png(f.resolve("zebra/1.png"), 4, 4, 1);
        png(f.resolve("zebra/0.PNG"), 4, 4, 1);
        png(f.resolve("ant/x.png"), 4, 4, 2);
        Files.writeString(f.resolve("ant/notes.txt"), "not an image");
        Dataset d = ImageFolderDataset.open(f, DatasetOptions.defaults());
        assertEquals(List.of("ant", "zebra"), d.classNames());
        assertEquals(List.of(0, 1, 1), d.samples().stream().map(Sample::label).toList());
        assertEquals("0.PNG", d.samples().get(1).path().getFileName().toString());
        Files.createDirectories(f.resolve("empty"));
        DataException e = assertThrows(DataException.class, () -> ImageFolderDataset.open(f, DatasetOptions.defaults()));
        assertTrue(e.getMessage().contains("class folder without images"), e.getMessage());
    }
}
