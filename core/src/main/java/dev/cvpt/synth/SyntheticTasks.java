package dev.cvpt.synth;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cvpt.UserException;

import javax.imageio.ImageIO;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageOutputStream;
import javax.imageio.stream.MemoryCacheImageOutputStream;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

/**
 * Small synthetic image-classification tasks, written in the VTAB-1k (NOAH) layout, for demos and
 * tests that need data where the label is known to be in the pixels. Every image is a pure function
 * of (task, size, seed, split, index): its random source is a {@link java.util.SplittableRandom}
 * seeded from those, so folders are byte-for-byte reproducible whatever the number of threads, and
 * image {@code i} of a split does not depend on how many images the split has. The label of image
 * {@code i} is {@code i % classes}: every split is balanced. Shapes are rasterised by sampling pixel
 * centres, antialiasing OFF (see {@code Canvas} for why), and saved as 8-bit RGB PNG.
 *
 * <p>Tasks 1 to 4 share a look: a muted two-colour gradient with grey pixel noise, 2..4 thin muted
 * lines as clutter, and small vivid flat shapes (disks, squares, triangles) that never touch. The
 * label depends on a relation between objects, not on what is in the image overall, so a frozen
 * generic backbone's class token alone is not meant to be enough.
 * <ul>
 * <li>{@code count} (4 classes): 1..4 vivid shapes of random kind, size (radius 7..13% of the image,
 *     so the total coloured area overlaps between counts) and colour; label = count - 1.</li>
 * <li>{@code position} (4 classes) and {@code position9} (9): one shape with a white border among
 *     2..4 shapes with a dark border or none; label = the quadrant (3 x 3 cell) of its centre, row-major
 *     from the top left; the centre keeps 6% of the image away from cell edges.</li>
 * <li>{@code orientation} (4 classes): one long vivid bar (55..72% of the image) among small disks and
 *     squares; label = its angle binned into 4 bins centred on 0, 45, 90, 135 degrees (0 = horizontal,
 *     counter-clockwise as seen; angles keep 10% of a bin away from the bin edges).</li>
 * <li>{@code colour} (4 classes: 0 red, 1 green, 2 blue, 3 yellow, hue +-10 degrees): the colour of
 *     one large disk (radius 17..23%) among 2..4 smaller shapes (30..55% of its radius) coloured in the
 *     other classes' colours. The acceptance variant: {@code write(root, "colour", 48, seed, 200, 0, 200)}.</li>
 * </ul>
 * {@code pretrain} (32 classes) is for pretraining the backbone that the other tasks then probe, and
 * looks different on purpose: one big glyph (a 5 x 5 symmetric block pattern, 50..80% of the image,
 * class = which of 32 fixed patterns, see {@code Glyphs}) as a mosaic of one random hue on a cloudy
 * background, without lines or small shapes.
 */
public final class SyntheticTasks {
    private SyntheticTasks() {}

    /** Bump when any image changes: folders written by another version are regenerated. */
    public static final int GENERATOR_VERSION = 1;
    public static final int MIN_SIZE = 24, MAX_SIZE = 512;
    /** Image splits; the list files keep the official VTAB-1k names whatever the counts. */
    public static final List<String> SPLITS = List.of("train", "val", "test");
    public static final String META_FILE = "synthetic.json";

    private static final Map<String, TaskSpec> SPECS = specs(
            new TaskSpec("count", 4, "number of vivid shapes (1..4) among muted lines; label = count - 1"),
            new TaskSpec("position", 4, "quadrant of the white-bordered shape among other shapes"),
            new TaskSpec("position9", 9, "3x3 grid cell of the white-bordered shape among other shapes"),
            new TaskSpec("orientation", Scenes.ORIENTATION_BINS, "angle of a long bar in 4 bins centred on 0/45/90/135 degrees"),
            new TaskSpec("colour", 4, "colour (red/green/blue/yellow) of the large disk among smaller shapes of other colours"),
            new TaskSpec("disk", 4, "colour of one large disk on grey among small squares of any colour (the simplest task)"),
            new TaskSpec("quadrant", 4, "quadrant of one disk on a plain dark background (demo, structured)"),
            new TaskSpec("number", 4, "how many (1..4) equal disks on a plain dark background; label = n - 1 (demo, structured)"),
            new TaskSpec("angle", 4, "angle of one bar in 4 bins centred on 0/45/90/135 degrees, plain background (demo, structured)"),
            new TaskSpec("shapes", 24, "kind (disk/square/triangle) x hue band (8) of 1..3 objects on a cloudy background (pretrains the demo backbone)"),
            new TaskSpec("pretrain", Glyphs.COUNT, "which of 32 block glyphs, mosaic-coloured on a cloudy background (for pretraining)"));

    private static Map<String, TaskSpec> specs(TaskSpec... s) {
        Map<String, TaskSpec> m = new LinkedHashMap<>();
        for (TaskSpec t : s) m.put(t.name(), t);
        return m;
    }

    public static List<String> names() { return List.copyOf(SPECS.keySet()); }

    public static TaskSpec spec(String name) {
        TaskSpec s = SPECS.get(name);
        if (s == null) throw new UserException("unknown synthetic task '" + name + "' (known: " + String.join(", ", names()) + ")");
        return s;
    }

    /** The label of image {@code index} of any split: balanced by construction. */
    public static int label(String task, int index) { return index % spec(task).classes(); }

    /** Renders one image; a pure function of its arguments. */
    public static Sample render(String task, int size, long seed, String split, int index) {
        TaskSpec spec = spec(task);
        checkSize(size);
        if (!SPLITS.contains(split)) throw new UserException("unknown split '" + split + "' (known: " + String.join(", ", SPLITS) + ")");
        if (index < 0) throw new UserException("negative image index " + index);
        int label = index % spec.classes();
        Rng r = new Rng(seed, task, split, index);
        Canvas c = new Canvas(size);
        switch (task) {
            case "count" -> Scenes.count(c, r, label);
            case "position" -> Scenes.position(c, r, label, 2);
            case "position9" -> Scenes.position(c, r, label, 3);
            case "orientation" -> Scenes.orientation(c, r, label, Scenes.ORIENTATION_BINS);
            case "colour" -> Scenes.colour(c, r, label);
            case "disk" -> Scenes.disk(c, r, label);
            case "pretrain" -> Scenes.pretrain(c, r, label);
            case "shapes" -> Scenes.shapes(c, r, label);
            case "quadrant" -> Scenes.quadrant(c, r, label);
            case "number" -> Scenes.number(c, r, label);
            case "angle" -> Scenes.angle(c, r, label);
            default -> throw new IllegalStateException("no renderer for " + task);
        }
        return new Sample(c.toImage(), label);
    }

    public static int defaultThreads() { return Math.max(1, Math.min(8, Runtime.getRuntime().availableProcessors())); }

    /** {@link #write(Path, String, int, long, int, int, int, int)} with {@link #defaultThreads()}. */
    public static Path write(Path root, String task, int size, long seed, int train, int val, int test) throws IOException {
        return write(root, task, size, seed, train, val, test, defaultThreads());
    }

    /**
     * Writes {@code root/task/} (images/SPLIT/NNNNNN.png, the four list files, synthetic.json) and
     * returns it. The folder is built as {@code root/task.tmpXXX} and renamed into place, so a crash
     * never leaves a half-written task folder; when {@code root/task} already holds exactly these
     * parameters (same synthetic.json) nothing is written. An older synthetic folder with other
     * parameters is replaced; a folder without synthetic.json is refused rather than deleted.
     */
    public static Path write(Path root, String task, int size, long seed, int train, int val, int test, int threads) throws IOException {
        TaskSpec spec = spec(task);
        checkSize(size);
        if (train < 0 || val < 0 || test < 0) throw new UserException("image counts must be >= 0 (train " + train + ", val " + val + ", test " + test + ")");
        if (threads < 1) throw new UserException("threads must be >= 1");
        ObjectNode meta = metadata(spec, size, seed, train, val, test);
        Path dir = root.resolve(task);
        if (upToDate(dir, meta)) return dir;
        refuseForeign(dir);

        Files.createDirectories(root);
        Path tmp = Files.createTempDirectory(root, task + ".tmp");
        try {
            fill(tmp, task, size, seed, new int[]{train, val, test}, threads);
            Files.writeString(tmp.resolve(META_FILE), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(meta) + "\n");
            install(tmp, dir, meta);
        } finally {
            deleteTree(tmp);
        }
        return dir;
    }

    /** Whether {@code root/task} is a complete folder written with exactly these parameters. */
    public static boolean isUpToDate(Path root, String task, int size, long seed, int train, int val, int test) {
        return upToDate(root.resolve(task), metadata(spec(task), size, seed, train, val, test));
    }

    // ---- internals ----

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> LIST_FILES = List.of("train800.txt", "val200.txt", "train800val200.txt", "test.txt");

    private static void checkSize(int size) {
        if (size < MIN_SIZE || size > MAX_SIZE) throw new UserException("image size " + size + " is outside " + MIN_SIZE + ".." + MAX_SIZE);
    }

    private static ObjectNode metadata(TaskSpec spec, int size, long seed, int train, int val, int test) {
        ObjectNode m = JSON.createObjectNode();
        m.put("generator", "cvpt synth (dev.cvpt.synth)");
        m.put("version", GENERATOR_VERSION);
        m.put("task", spec.name());
        m.put("classes", spec.classes());
        m.put("description", spec.description());
        m.put("size", size);
        m.put("seed", seed);
        m.put("train", train);
        m.put("val", val);
        m.put("test", test);
        m.put("format", "PNG, 8-bit RGB, antialiasing off; label of image i = i % classes");
        try {   // through text and back, so that it compares equal to what is read from the file (long 0 reads as int 0)
            return (ObjectNode) JSON.readTree(JSON.writeValueAsString(m));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static boolean upToDate(Path dir, JsonNode meta) {
        Path f = dir.resolve(META_FILE);
        if (!Files.isRegularFile(f)) return false;
        try {
            if (!JSON.readTree(f.toFile()).equals(meta)) return false;
        } catch (IOException e) {
            return false;                       // unreadable: regenerate
        }
        for (String l : LIST_FILES) if (!Files.isRegularFile(dir.resolve(l))) return false;
        return true;
    }

    private static void refuseForeign(Path dir) {
        if (Files.exists(dir) && !Files.isRegularFile(dir.resolve(META_FILE)))
            throw new UserException(dir + " exists and was not written by cvpt synth (no " + META_FILE + "); remove it or choose another output folder");
    }

    private static void install(Path tmp, Path dir, JsonNode meta) throws IOException {
        for (int attempt = 0; ; attempt++) {
            if (Files.exists(dir)) {
                if (upToDate(dir, meta)) return;          // someone else just wrote the same folder
                refuseForeign(dir);
                Path old = Files.createTempDirectory(dir.getParent(), dir.getFileName() + ".old");
                move(dir, old.resolve("task"));
                move(tmp, dir);
                deleteTree(old);
                return;
            }
            try {
                move(tmp, dir);
                return;
            } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
                if (attempt == 3) throw e;                 // lost a race: look again
            }
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to);
        }
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(q);
        }
    }

    /** Renders and saves every image with {@code threads} workers, then writes the list files. */
    private static void fill(Path dir, String task, int size, long seed, int[] counts, int threads) throws IOException {
        List<String> splits = new ArrayList<>();
        List<Integer> indices = new ArrayList<>();
        List<List<String>> lines = new ArrayList<>();
        for (int k = 0; k < SPLITS.size(); k++) {
            String split = SPLITS.get(k);
            Files.createDirectories(dir.resolve("images").resolve(split));
            List<String> ls = new ArrayList<>();
            for (int i = 0; i < counts[k]; i++) {
                splits.add(split);
                indices.add(i);
                ls.add(relativePath(split, i) + " " + label(task, i));
            }
            lines.add(ls);
        }
        int total = splits.size();
        AtomicInteger next = new AtomicInteger();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Runnable worker = () -> {
            ImageWriter writer = ImageIO.getImageWritersByFormatName("png").next();
            try {
                for (int j; failure.get() == null && (j = next.getAndIncrement()) < total; ) {
                    Sample s = render(task, size, seed, splits.get(j), indices.get(j));
                    Files.write(dir.resolve(relativePath(splits.get(j), indices.get(j))), png(writer, s.image()));
                }
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            } finally {
                writer.dispose();
            }
        };
        List<Thread> pool = new ArrayList<>();
        for (int t = 0; t < Math.min(threads, Math.max(1, total)); t++) {
            Thread th = new Thread(worker, "synth-" + t);
            pool.add(th);
            th.start();
        }
        try {
            for (Thread th : pool) th.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            failure.compareAndSet(null, e);
            for (Thread th : pool) th.interrupt();
        }
        Throwable f = failure.get();
        if (f instanceof IOException e) throw e;
        if (f instanceof UncheckedIOException e) throw e.getCause();
        if (f instanceof RuntimeException e) throw e;
        if (f instanceof Error e) throw e;
        if (f != null) throw new IOException("writing " + task + " was interrupted", f);

        List<String> trainVal = new ArrayList<>(lines.get(0));
        trainVal.addAll(lines.get(1));
        List<List<String>> content = List.of(lines.get(0), lines.get(1), trainVal, lines.get(2));
        for (int k = 0; k < LIST_FILES.size(); k++) {
            StringBuilder sb = new StringBuilder();
            for (String l : content.get(k)) sb.append(l).append('\n');
            Files.writeString(dir.resolve(LIST_FILES.get(k)), sb, StandardCharsets.UTF_8);
        }
    }

    /** {@code images/<split>/<index, 6 digits>.png}, relative to the task folder. */
    public static String relativePath(String split, int index) { return String.format("images/%s/%06d.png", split, index); }

    /** PNG bytes through an in-memory stream: ImageIO.write(.., OutputStream) may use a disk cache. */
    private static byte[] png(ImageWriter writer, BufferedImage img) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(8192);
        try (ImageOutputStream out = new MemoryCacheImageOutputStream(bytes)) {
            writer.setOutput(out);
            writer.write(img);
        }
        return bytes.toByteArray();
    }
}
