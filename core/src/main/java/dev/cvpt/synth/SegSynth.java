package dev.cvpt.synth;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cvpt.UserException;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.awt.image.DataBufferInt;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

import dev.cvpt.synth.Canvas.Polygon;
import dev.cvpt.synth.Canvas.Region;

/**
 * A synthetic semantic-segmentation task in the ADE20K layout: {@code ROOT/images/{training,validation}/
 * NNNNNN.png} (8-bit RGB) and {@code ROOT/annotations/{training,validation}/NNNNNN.png} (8-bit grey raw
 * ids), plus {@code ROOT/dataset.json} ({@code num_classes} 4, {@code reduce_zero_label} true, class
 * names, palette, suffixes) that {@code SegDataset} reads.
 *
 * <p>Each image (width and height drawn in [{@code minSide}, {@code maxSide}], so images are not square)
 * has a cloudy muted background with 2..4 thin muted lines (raw id 0, "other": ignored by
 * reduce_zero_label, as ADE20K's 0) and 2..4 vivid flat objects of random hue whose SHAPE is the class:
 * raw 1 disk, 2 square, 3 triangle, 4 bar (→ classes 0..3 after reduce_zero_label). Objects keep a gap
 * of ≥ 2 px between them, so every object is one connected region. The mask is rasterised with the
 * image's own rule (pixel centres, no antialiasing), so mask and pixels agree exactly. Every image is a
 * pure function of (seed, split, index), as the classification tasks ({@link SyntheticTasks}).
 */
public final class SegSynth {
    private SegSynth() {}

    public static final int VERSION = 1;
    public static final List<String> CLASSES = List.of("disk", "square", "triangle", "bar");
    /** Display colours (RGB) of the classes in masks. */
    public static final int[][] PALETTE = {{230, 25, 75}, {60, 180, 75}, {0, 130, 200}, {255, 225, 25}};
    public static final int DEFAULT_MIN_SIDE = 64, DEFAULT_MAX_SIDE = 96;

    /** One rendered sample: RGB pixels (packed 0xRRGGBB) and raw ids, both row-major width × height. */
    public record Scene(int width, int height, int[] rgb, byte[] ids) {}

    /** {@link #write(Path, int, int, long, int, int)} with images of 64..96 px a side. */
    public static Path write(Path root, int trainCount, int valCount, long seed) throws IOException {
        return write(root, trainCount, valCount, seed, DEFAULT_MIN_SIDE, DEFAULT_MAX_SIDE);
    }

    /**
     * Writes the task into {@code root} (built beside it and renamed into place) and returns root; a
     * folder that already holds exactly these parameters is kept as it is. A folder not written by this
     * generator is refused.
     */
    public static Path write(Path root, int trainCount, int valCount, long seed, int minSide, int maxSide) throws IOException {
        if (trainCount < 0 || valCount < 0) throw new UserException("image counts must be >= 0 (train " + trainCount + ", val " + valCount + ")");
        if (minSide < 24 || maxSide > 1024 || minSide > maxSide) throw new UserException("image sides " + minSide + ".." + maxSide + " (need 24 <= min <= max <= 1024)");
        ObjectNode meta = metadata(trainCount, valCount, seed, minSide, maxSide);
        Path abs = root.toAbsolutePath().normalize();
        Path metaFile = abs.resolve("dataset.json");
        ObjectMapper json = new ObjectMapper();
        if (Files.isRegularFile(metaFile)) {
            try {
                if (json.readTree(metaFile.toFile()).equals(json.readTree(json.writeValueAsString(meta)))) return abs;
            } catch (IOException ignored) { /* unreadable: regenerate */ }
        }
        if (Files.exists(abs) && !(Files.isRegularFile(metaFile) && isOurs(json, metaFile)))
            throw new UserException(abs + " exists and was not written by the synthetic segmentation generator; remove it or choose another folder");
        Path parent = abs.getParent();
        Files.createDirectories(parent);
        Path tmp = Files.createTempDirectory(parent, abs.getFileName() + ".tmp");
        try {
            int[] counts = {trainCount, valCount};
            String[] splits = {"training", "validation"};
            for (int k = 0; k < 2; k++) {
                Path id = Files.createDirectories(tmp.resolve("images").resolve(splits[k]));
                Path ad = Files.createDirectories(tmp.resolve("annotations").resolve(splits[k]));
                for (int i = 0; i < counts[k]; i++) {
                    Scene s = render(seed, splits[k], i, minSide, maxSide);
                    String name = String.format("%06d.png", i);
                    ImageIO.write(rgbImage(s), "png", id.resolve(name).toFile());
                    ImageIO.write(idImage(s), "png", ad.resolve(name).toFile());
                }
            }
            Files.writeString(tmp.resolve("dataset.json"), json.writerWithDefaultPrettyPrinter().writeValueAsString(meta) + "\n");
            if (Files.exists(abs)) deleteTree(abs);
            Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            deleteTree(tmp);
        }
        return abs;
    }

    private static boolean isOurs(ObjectMapper json, Path metaFile) {
        try {
            return json.readTree(metaFile.toFile()).path("generator").asText("").startsWith("cvpt synth --segmentation");
        } catch (IOException e) {
            return false;
        }
    }

    static ObjectNode metadata(int train, int val, long seed, int minSide, int maxSide) {
        ObjectNode m = new ObjectMapper().createObjectNode();
        m.put("generator", "cvpt synth --segmentation (dev.cvpt.synth.SegSynth)");
        m.put("version", VERSION);
        m.put("num_classes", CLASSES.size());
        m.put("reduce_zero_label", true);
        ArrayNode names = m.putArray("classes");
        CLASSES.forEach(names::add);
        ArrayNode pal = m.putArray("palette");
        for (int[] c : PALETTE) pal.addArray().add(c[0]).add(c[1]).add(c[2]);
        m.put("img_suffix", ".png");
        m.put("seg_map_suffix", ".png");
        m.put("description", "shapes on a cloudy background; raw id 0 = other (background, lines), 1 disk, 2 square, 3 triangle, 4 bar");
        m.put("seed", seed);
        m.put("training", train);
        m.put("validation", val);
        m.put("min_side", minSide);
        m.put("max_side", maxSide);
        return m;
    }

    /** Renders one sample; a pure function of its arguments. */
    public static Scene render(long seed, String split, int index, int minSide, int maxSide) {
        Rng r = new Rng(seed, "segmentation", split, index);
        int w = r.between(minSide, maxSide), h = r.between(minSide, maxSide), side = Math.max(w, h);
        Canvas c = new Canvas(side);
        byte[] ids = new byte[side * side];
        Scenes.cloudyBackground(c, r);
        Scenes.clutterLines(c, r, 2, 4);
        int n = r.between(2, 4), shortSide = Math.min(w, h);
        double gap = Math.max(2, 0.04 * shortSide);
        List<double[]> placed = new ArrayList<>();                 // {x, y, radius}
        for (int i = 0; i < n; i++) {
            int cls = 1 + r.nextInt(CLASSES.size());
            double rad = shortSide * r.uniform(0.12, 0.22);
            double[] at = null;
            for (int t = 0; t < 60 && at == null; t++) {
                double x = r.uniform(rad + 1, w - rad - 1), y = r.uniform(rad + 1, h - rad - 1);
                boolean free = true;
                for (double[] p : placed) free &= Math.hypot(x - p[0], y - p[1]) >= rad + p[2] + gap;
                if (free) at = new double[]{x, y, rad};
            }
            if (at == null) continue;
            placed.add(at);
            double rot = r.uniform(0, 2 * Math.PI);
            Region reg = switch (cls) {
                case 1 -> new Canvas.Disk(at[0], at[1], rad);
                case 2 -> Polygon.regular(4, at[0], at[1], rad, rot);
                case 3 -> Polygon.regular(3, at[0], at[1], rad, rot);
                default -> Polygon.rect(at[0], at[1], 2 * rad, Math.max(3, 0.45 * rad), rot);
            };
            c.fill(reg, Scenes.vivid(r));
            fillIds(ids, side, reg, cls);
        }
        int[] rgb = new int[w * h];
        byte[] lab = new byte[w * h];
        for (int y = 0; y < h; y++) {
            System.arraycopy(c.px, y * side, rgb, y * w, w);
            System.arraycopy(ids, y * side, lab, y * w, w);
        }
        return new Scene(w, h, rgb, lab);
    }

    /** The same pixel rule as {@link Canvas#fill}: a pixel belongs to the region when its centre does. */
    private static void fillIds(byte[] ids, int size, Region r, int id) {
        int x0 = Math.max(0, (int) Math.floor(r.minX() - 0.5)), x1 = Math.min(size - 1, (int) Math.ceil(r.maxX()));
        int y0 = Math.max(0, (int) Math.floor(r.minY() - 0.5)), y1 = Math.min(size - 1, (int) Math.ceil(r.maxY()));
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++)
                if (r.contains(x + 0.5, y + 0.5)) ids[y * size + x] = (byte) id;
    }

    static BufferedImage rgbImage(Scene s) {
        BufferedImage img = new BufferedImage(s.width(), s.height(), BufferedImage.TYPE_INT_RGB);
        System.arraycopy(s.rgb(), 0, ((DataBufferInt) img.getRaster().getDataBuffer()).getData(), 0, s.rgb().length);
        return img;
    }

    static BufferedImage idImage(Scene s) {
        BufferedImage img = new BufferedImage(s.width(), s.height(), BufferedImage.TYPE_BYTE_GRAY);
        System.arraycopy(s.ids(), 0, ((DataBufferByte) img.getRaster().getDataBuffer()).getData(), 0, s.ids().length);
        return img;
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(q);
        }
    }
}
