package dev.cvpt.data.seg;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cvpt.data.DataException;
import dev.cvpt.data.DatasetProblems;
import dev.cvpt.data.ImageDecodeException;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

/**
 * A semantic-segmentation dataset in the ADE20K layout (mmseg's {@code ADE20KDataset} /
 * {@code CustomDataset}): {@code ROOT/images/SPLIT/**.jpg} with {@code ROOT/annotations/SPLIT/**.png}
 * beside them (same relative path, suffix replaced), SPLIT = {@code training} or {@code validation}
 * (aliases {@code train}, {@code val}). Images are sorted by relative path, as mmseg does.
 *
 * <p>{@code ROOT/dataset.json}, when present, describes a non-ADE dataset (the synthetic task writes
 * one): {@code num_classes}, {@code reduce_zero_label}, {@code classes} (names), {@code palette}
 * ([[r,g,b], ...]), {@code img_suffix}, {@code seg_map_suffix}, {@code palette_indices}. Absent keys
 * take the ADE20K values (150 classes, reduce_zero_label, mmseg's names and palette, .jpg/.png).
 *
 * <p>Opening checks every sample (in parallel): the annotation exists, is an 8-bit grey PNG (see
 * {@link LabelPng}), has its image's size, and holds only valid ids: with reduce_zero_label raw ids
 * 0..K (0 = ignored "other") and 255; without, 0..K−1 and 255. Each problem is one line naming the file;
 * without {@code skipBad} they are all reported in one {@link DataException}, with it the bad samples
 * are left out and counted ({@link #skipped()}, {@link #problems()}).
 */
public final class SegDataset {
    public static final String META_FILE = "dataset.json";
    public static final List<String> SPLITS = List.of("training", "validation");

    /** How to open: {@code scanLabels=false} skips the value scan at open (values are then checked at load). */
    public record Options(boolean skipBad, boolean scanLabels, int threads) {
        public static Options defaults() { return new Options(false, true, defaultThreads()); }

        public Options withSkipBad(boolean s) { return new Options(s, scanLabels, threads); }
    }

    /** The class set of a dataset (from dataset.json or ADE20K's). */
    public record Meta(int numClasses, boolean reduceZeroLabel, List<String> classNames, int[][] palette,
                       String imgSuffix, String segMapSuffix, boolean paletteIndices) {}

    private final Path root;
    private final String split;
    private final Meta meta;
    private final List<Path> images, annotations;
    private final int skipped;
    private final List<String> problems;
    private final boolean scanned;

    private SegDataset(Path root, String split, Meta meta, List<Path> images, List<Path> annotations, int skipped,
                       List<String> problems, boolean scanned) {
        this.root = root;
        this.split = split;
        this.meta = meta;
        this.images = List.copyOf(images);
        this.annotations = List.copyOf(annotations);
        this.skipped = skipped;
        this.problems = List.copyOf(problems);
        this.scanned = scanned;
    }

    /** Opens {@code split} of the dataset in {@code root}, checking every sample. */
    public static SegDataset open(Path root, String split, boolean skipBad) {
        return open(root, split, Options.defaults().withSkipBad(skipBad));
    }

    public static SegDataset open(Path root, String split, Options opt) {
        Path r = root.toAbsolutePath().normalize();
        String sp = canonicalSplit(split);
        if (!Files.isDirectory(r)) throw new DataException("no such dataset folder: " + r, List.of());
        Meta meta = readMeta(r);
        Path imgDir = r.resolve("images").resolve(sp), annDir = r.resolve("annotations").resolve(sp);
        if (!Files.isDirectory(imgDir))
            throw new DataException("no image folder " + imgDir + " (the ADE20K layout has images/{training,validation} and annotations/{training,validation})", List.of());
        List<Path> imgs;
        try (Stream<Path> s = Files.walk(imgDir)) {
            imgs = s.filter(p -> Files.isRegularFile(p) && p.getFileName().toString().endsWith(meta.imgSuffix()))
                    .sorted((a, b) -> imgDir.relativize(a).toString().compareTo(imgDir.relativize(b).toString())).toList();
        } catch (IOException e) {
            throw new DataException("cannot list " + imgDir + ": " + e.getMessage(), List.of());
        }
        List<Path> anns = new ArrayList<>();
        for (Path p : imgs) {
            String rel = imgDir.relativize(p).toString();
            anns.add(annDir.resolve(rel.substring(0, rel.length() - meta.imgSuffix().length()) + meta.segMapSuffix()));
        }
        Problem[] bad = new Problem[imgs.size()];
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, opt.threads()), t -> {
            Thread th = new Thread(t, "seg-check");
            th.setDaemon(true);
            return th;
        });
        try {
            List<Future<Problem>> fs = new ArrayList<>();
            for (int i = 0; i < imgs.size(); i++) {
                int k = i;
                fs.add(pool.submit(() -> check(imgs.get(k), anns.get(k), meta, opt.scanLabels())));
            }
            for (int i = 0; i < fs.size(); i++) bad[i] = fs.get(i).get();
        } catch (Exception e) {
            throw new IllegalStateException("checking " + r + " failed", e);
        } finally {
            pool.shutdownNow();
        }
        DatasetProblems problems = new DatasetProblems();
        List<Path> keptImg = new ArrayList<>(), keptAnn = new ArrayList<>();
        for (int i = 0; i < imgs.size(); i++) {
            if (bad[i] != null) problems.add(bad[i].file(), bad[i].reason());
            else {
                keptImg.add(imgs.get(i));
                keptAnn.add(anns.get(i));
            }
        }
        List<String> list = problems.list();
        String name = "dataset " + r.getFileName() + " (" + sp + ")";
        if (!opt.skipBad() && !list.isEmpty()) throw new DataException(name + " has problems", list);
        if (keptImg.isEmpty())
            throw new DataException(name + " is empty: no usable image *" + meta.imgSuffix() + " under " + imgDir, list);
        return new SegDataset(r, sp, meta, keptImg, keptAnn, imgs.size() - keptImg.size(), list, opt.scanLabels());
    }

    private record Problem(Path file, String reason) {}

    private static Problem bad(ImageDecodeException e) { return new Problem(e.file(), e.reason()); }

    /** What is wrong with a sample (the file to blame and why), or null. */
    private static Problem check(Path img, Path ann, Meta meta, boolean scan) {
        if (!Files.isRegularFile(ann)) return new Problem(ann, "missing annotation for image " + img);
        LabelPng.Header h;
        try {
            h = LabelPng.header(ann);
        } catch (ImageDecodeException e) {
            return bad(e);
        }
        String why = h.problem(meta.paletteIndices());
        if (why != null) return new Problem(ann, why);
        int[] wh;
        try {
            wh = imageSize(img);
        } catch (ImageDecodeException e) {
            return bad(e);
        }
        if (wh[0] != h.width() || wh[1] != h.height())
            return new Problem(ann, "label map is " + h.width() + "x" + h.height() + " but its image " + img.getFileName() + " is " + wh[0] + "x" + wh[1]);
        if (scan) {
            try {
                String v = checkValues(LabelPng.read(ann, meta.paletteIndices()), meta);
                if (v != null) return new Problem(ann, v);
            } catch (ImageDecodeException e) {
                return bad(e);
            }
        }
        return null;
    }

    /** Why the values are not valid raw ids for {@code meta}, or null. */
    static String checkValues(LabelMap m, Meta meta) {
        int maxValid = meta.reduceZeroLabel() ? meta.numClasses() : meta.numClasses() - 1;
        byte[] v = m.values();
        for (int i = 0; i < v.length; i++) {
            int x = v[i] & 0xff;
            if (x > maxValid && x != 255)
                return "label " + x + " at (x " + i % m.width() + ", y " + i / m.width() + ") is above the class count ("
                        + meta.numClasses() + " classes" + (meta.reduceZeroLabel() ? " with reduce_zero_label: raw ids 0.." + maxValid
                        : ": ids 0.." + maxValid) + " and 255 = ignore)";
        }
        return null;
    }

    private static int[] imageSize(Path file) {
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            Iterator<ImageReader> it = in == null ? null : ImageIO.getImageReaders(in);
            if (it == null || !it.hasNext()) throw new ImageDecodeException(file, "not a supported image format");
            ImageReader r = it.next();
            r.setInput(in, true, true);
            try {
                return new int[]{r.getWidth(0), r.getHeight(0)};
            } finally {
                r.dispose();
            }
        } catch (IOException | RuntimeException e) {
            if (e instanceof ImageDecodeException d) throw d;
            throw new ImageDecodeException(file, "not a readable image: " + e);
        }
    }

    static String canonicalSplit(String split) {
        return switch (split) {
            case "training", "train" -> "training";
            case "validation", "val" -> "validation";
            default -> throw new DataException("unknown split '" + split + "' (the ADE20K layout has training and validation)", List.of());
        };
    }

    /** The class set of the dataset in {@code root}: its dataset.json, or ADE20K's. */
    public static Meta readMeta(Path root) {
        Path f = root.resolve(META_FILE);
        int[][] ade = Ade20k.palette();
        if (!Files.isRegularFile(f))
            return new Meta(Ade20k.NUM_CLASSES, true, Ade20k.CLASSES, ade, Ade20k.IMG_SUFFIX, Ade20k.SEG_MAP_SUFFIX, false);
        JsonNode j;
        try {
            j = new ObjectMapper().readTree(f.toFile());
        } catch (IOException e) {
            throw new DataException(f + ": not valid JSON: " + e.getMessage().lines().findFirst().orElse(""), List.of());
        }
        if (j == null || !j.isObject()) throw new DataException(f + ": expected a JSON object", List.of());
        List<String> names = new ArrayList<>();
        if (j.has("classes")) {
            if (!j.get("classes").isArray()) throw new DataException(f + ": \"classes\" must be a list of names", List.of());
            j.get("classes").forEach(n -> names.add(n.asText()));
        }
        int k = j.has("num_classes") ? j.get("num_classes").asInt(-1) : names.isEmpty() ? Ade20k.NUM_CLASSES : names.size();
        if (k < 1 || k > 254) throw new DataException(f + ": \"num_classes\" must be 1..254, got " + j.get("num_classes"), List.of());
        if (!names.isEmpty() && names.size() != k)
            throw new DataException(f + ": " + names.size() + " class names for num_classes " + k, List.of());
        if (names.isEmpty()) for (int i = 0; i < k; i++) names.add(k == Ade20k.NUM_CLASSES ? Ade20k.CLASSES.get(i) : "class" + i);
        int[][] pal = new int[k][];
        for (int i = 0; i < k; i++) pal[i] = ade[i % ade.length].clone();
        if (j.has("palette")) {
            JsonNode p = j.get("palette");
            if (!p.isArray() || p.size() != k) throw new DataException(f + ": \"palette\" must list " + k + " [r, g, b] colours", List.of());
            for (int i = 0; i < k; i++) {
                JsonNode c = p.get(i);
                if (!c.isArray() || c.size() != 3) throw new DataException(f + ": palette entry " + i + " must be [r, g, b]", List.of());
                pal[i] = new int[]{c.get(0).asInt() & 0xff, c.get(1).asInt() & 0xff, c.get(2).asInt() & 0xff};
            }
        }
        return new Meta(k, j.path("reduce_zero_label").asBoolean(Ade20k.REDUCE_ZERO_LABEL), List.copyOf(names), pal,
                j.path("img_suffix").asText(Ade20k.IMG_SUFFIX), j.path("seg_map_suffix").asText(Ade20k.SEG_MAP_SUFFIX),
                j.path("palette_indices").asBoolean(false));
    }

    static int defaultThreads() { return Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors())); }

    // ---- accessors ----

    public Path root() { return root; }

    /** "training" or "validation". */
    public String split() { return split; }

    public Meta meta() { return meta; }

    public int size() { return images.size(); }

    public int numClasses() { return meta.numClasses(); }

    public boolean reduceZeroLabel() { return meta.reduceZeroLabel(); }

    public List<String> classNames() { return meta.classNames(); }

    /** RGB colour per class ({@code [K][3]}). */
    public int[][] palette() {
        int[][] p = new int[meta.palette().length][];
        for (int i = 0; i < p.length; i++) p[i] = meta.palette()[i].clone();
        return p;
    }

    public Path image(int i) { return images.get(i); }

    public Path annotation(int i) { return annotations.get(i); }

    /** Samples left out with skipBad. */
    public int skipped() { return skipped; }

    /** What was left out, one line per sample naming the file (empty unless skipBad). */
    public List<String> problems() { return problems; }

    /** Decodes image {@code i} to BGR, as cv2 does. */
    public BgrImage loadImage(int i) { return BgrImage.decode(images.get(i)); }

    /**
     * The raw label map of sample {@code i} (uint8 as in the PNG, before reduce_zero_label), what the
     * metrics take. When the values were not scanned at open, a bad value is a {@link DataException} naming the file.
     */
    public LabelMap loadRawLabel(int i) {
        LabelMap m = LabelPng.read(annotations.get(i), meta.paletteIndices());
        if (!scanned) {
            String v = checkValues(m, meta);
            if (v != null) throw new DataException(annotations.get(i) + ": " + v, List.of());
        }
        return m;
    }

    /** The label map in training form: reduce_zero_label applied when the dataset says so (255 = ignore). */
    public LabelMap loadLabel(int i) {
        LabelMap m = loadRawLabel(i);
        return meta.reduceZeroLabel() ? m.reduceZeroLabel() : m;
    }
}
