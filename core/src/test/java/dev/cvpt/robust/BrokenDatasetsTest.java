package dev.cvpt.robust;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * train (and eval) on datasets with malformed list lines, labels out of range, missing files, paths
 * escaping the folder, unreadable images, empty splits and class-count mismatches: exit 2 with every
 * problem listed as file:line: reason in one message; --skip-bad goes on and reports what it skipped.
 */
class BrokenDatasetsTest {
    @TempDir Path tmp;
    int runs;

    private String[] train(Path data, String... extra) {
        List<String> a = new ArrayList<>(List.of("train", "--data", data.toString(), "--checkpoint", Fixtures.micro("npz").toString(),
                "--out", tmp.resolve("run" + runs++).toString(), "--epochs", "1", "--batch", "16", "--threads", "1", "--no-progress"));
        a.addAll(List.of(extra));
        return a.toArray(String[]::new);
    }

    /** Replaces line {@code n} (1-based) of a list file. */
    private static void setLine(Path list, int n, String text) throws IOException {
        List<String> lines = new ArrayList<>(Files.readAllLines(list));
        lines.set(n - 1, text);
        Files.write(list, lines);
    }

    private Path copy(String name) throws IOException { return Fixtures.copyOfData(tmp, name); }

    @Test
    @Timeout(300)
    void everyProblemIsListedAsFileLineReason() throws IOException {
        record Case(String name, Path data, String... fragments) {}
        List<Case> cases = new ArrayList<>();

        Path d = copy("malformed");
        setLine(d.resolve("train800val200.txt"), 3, "images/train/000002.png");
        setLine(d.resolve("train800val200.txt"), 5, "images/train/000004.png four");
        setLine(d.resolve("train800val200.txt"), 6, "images/train/000005.png -1");
        cases.add(new Case("malformed lines", d, "train800val200.txt:3: malformed line", "train800val200.txt:5: malformed label 'four'",
                "train800val200.txt:6: label -1 out of range"));

        d = copy("escape");
        setLine(d.resolve("train800val200.txt"), 2, "../../etc/passwd 1");
        setLine(d.resolve("train800val200.txt"), 4, "/etc/passwd 3");
        setLine(d.resolve("train800val200.txt"), 7, "images/../../elsewhere/000006.png 2");
        cases.add(new Case("paths escaping the folder", d, "train800val200.txt:2: path '../../etc/passwd' escapes the dataset folder",
                "train800val200.txt:4: absolute path '/etc/passwd'", "train800val200.txt:7: path 'images/../../elsewhere/000006.png' escapes"));

        d = copy("missing");
        Files.delete(d.resolve("images/train/000009.png"));
        setLine(d.resolve("test.txt"), 2, "images/test 1");
        cases.add(new Case("missing file and a folder", d, "train800val200.txt:10: missing file", "test.txt:2: not a file"));

        d = copy("testlabel");
        setLine(d.resolve("test.txt"), 3, "images/test/000002.png 7");
        cases.add(new Case("test label beyond the training classes", d, "test.txt:3: label 7 out of range 0..3"));

        d = copy("patch_camelyon"); // a VTAB task name: 2 classes, but the lists use 0..3
        cases.add(new Case("labels out of range for a known VTAB task", d, "train800val200.txt:3: label 2 out of range 0..1 (task patch_camelyon has 2 classes)",
                "test.txt:4: label 3 out of range"));

        d = copy("all-splits");
        setLine(d.resolve("train800val200.txt"), 1, "images/train/000000.png x");
        setLine(d.resolve("test.txt"), 1, "../x.png 0");
        cases.add(new Case("problems in two splits, one message", d, "train800val200.txt:1: malformed label", "test.txt:1: path '../x.png' escapes"));

        d = copy("emptytest");
        Files.write(d.resolve("test.txt"), new byte[0]);
        cases.add(new Case("empty test split", d, "test.txt: empty split"));

        d = copy("latin1");
        Files.write(d.resolve("test.txt"), "images/test/caf\u00e9.png 0\n".getBytes(StandardCharsets.ISO_8859_1));
        cases.add(new Case("list file not UTF-8", d, "test.txt"));

        d = copy("unreadable");
        Files.write(d.resolve("images/train/000003.png"), new byte[0]);
        Files.writeString(d.resolve("images/train/000008.png"), "not a png");
        byte[] png = Files.readAllBytes(d.resolve("images/train/000011.png"));
        Files.write(d.resolve("images/train/000011.png"), java.util.Arrays.copyOf(png, png.length / 2));
        cases.add(new Case("unreadable images", d, "train800val200.txt:4: not a supported image format", "train800val200.txt:9:",
                "train800val200.txt:12: not a readable image"));

        Path folders = tmp.resolve("folders");
        for (String split : List.of("train", "test"))
            for (String cls : split.equals("train") ? List.of("cat", "dog") : List.of("cat", "dog", "fox")) {
                Path c = Files.createDirectories(folders.resolve(split).resolve(cls));
                for (int i = 0; i < 16; i++) Files.copy(Fixtures.image(), c.resolve(i + ".png"));
            }
        cases.add(new Case("image folders with other classes in test", folders, "class folders [cat, dog, fox] differ"));

        cases.add(new Case("no such folder", tmp.resolve("nowhere"), "no such dataset folder"));
        cases.add(new Case("not a dataset", Files.createDirectories(tmp.resolve("plain")), "not a dataset folder"));

        for (Case c : cases) {
            Cli.Run r = Cli.fails(2, train(c.data()), c.fragments());
            assertTrue(r.message().contains(c.data().getFileName().toString()), "the message names no dataset file: " + r);
            Cli.record("train", "dataset: " + c.name(), r);
        }
    }

    @Test
    @Timeout(300)
    void skipBadGoesOnAndCountsWhatItLeftOut() throws IOException {
        Path d = copy("skip");
        setLine(d.resolve("train800val200.txt"), 3, "images/train/000002.png");       // malformed
        setLine(d.resolve("train800val200.txt"), 4, "../../etc/passwd 1");           // escapes
        Files.delete(d.resolve("images/train/000009.png"));                          // missing
        Files.writeString(d.resolve("images/train/000008.png"), "not a png");        // unreadable
        setLine(d.resolve("test.txt"), 3, "images/test/000002.png 7");                // label beyond the classes
        // the list problems come first; test labels are checked against the training classes once the training list reads
        Cli.Run r = Cli.fails(2, train(d), "train800val200.txt:3", "train800val200.txt:4", "train800val200.txt:10");
        Cli.record("train", "dataset: 3 train-list problems, a test label out of range, 1 unreadable image, without --skip-bad", r);

        Path out = tmp.resolve("skiprun");
        r = Cli.run("train", "--data", d.toString(), "--checkpoint", Fixtures.micro("npz").toString(), "--out", out.toString(),
                "--epochs", "1", "--batch", "16", "--threads", "1", "--no-progress", "--skip-bad");
        assertEquals(0, r.rc(), r.toString());
        assertTrue(r.err().contains("train 61, test 31 images (4 bad entries skipped)"), r.err());
        assertTrue(r.err().contains("1 unreadable images skipped: train 60, test 31 images left"), r.err());
        JsonNode m = new ObjectMapper().readTree(out.resolve("metrics.json").toFile());
        assertEquals(5, m.get("skipped_images").asInt(), m.toString());
        Cli.record("train --skip-bad", "dataset: the same 5 problems", r);

        r = Cli.run("eval", "--data", d.toString(), "--task", out.resolve("skip.safetensors").toString(), "--threads", "1", "--skip-bad");
        assertEquals(0, r.rc(), r.toString());
        JsonNode e = new ObjectMapper().readTree(r.out());
        assertEquals(1, e.get("skipped").asInt(), r.out());
        assertEquals(31, e.get("total").asInt(), r.out());
        Cli.record("eval --skip-bad", "dataset: test label beyond the classes", r);
    }

    @Test
    @Timeout(120)
    void evalOnADatasetWithAnotherClassCount() throws IOException {
        Path folders = tmp.resolve("three");
        for (String split : List.of("train", "test"))
            for (String cls : List.of("a", "b", "c")) {
                Path c = Files.createDirectories(folders.resolve(split).resolve(cls));
                for (int i = 0; i < 4; i++) Files.copy(Fixtures.image(), c.resolve(i + ".png"));
            }
        Cli.Run r = Cli.fails(2, new String[]{"eval", "--data", folders.toString(), "--task", Fixtures.task().toString(), "--threads", "1"},
                "three", "3 classes, the task file has 4");
        Cli.record("eval", "dataset with 3 classes, task with 4", r);
        Path small = copy("small");
        List<String> lines = Files.readAllLines(small.resolve("train800val200.txt")).subList(0, 10);
        Files.write(small.resolve("train800val200.txt"), lines);
        r = Cli.fails(2, train(small), "small", "10 training images are fewer than one batch of 16");
        Cli.record("train", "dataset: fewer training images than one batch", r);
    }
}
