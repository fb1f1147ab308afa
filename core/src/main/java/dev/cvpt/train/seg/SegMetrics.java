package dev.cvpt.train.seg;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cvpt.io.AtomicFiles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Semantic-segmentation metrics with mmsegmentation v0.15's semantics
 * ({@code mmseg/core/evaluation/metrics.py:25-130}, {@code datasets/custom.py:306-400}; oracle
 * {@code shared/reference/seg/seg_ref.py: eval_metrics}):
 * <ul>
 * <li>the ground truth is the RAW label map (uint8 as read from the PNG); {@code label_map} (old → new)
 *     is applied first, then {@code reduce_zero_label}: 0 → 255, −1, 254 → 255, in uint8 arithmetic
 *     (so −1 wraps to 255); for {@code int[]} ground truths the same steps without the wrap;</li>
 * <li>pixels whose ground truth is the ignore index (255) are dropped from prediction and ground truth;</li>
 * <li>per image: intersect = histogram of pred where pred == gt, union = hist(pred) + hist(gt) − intersect,
 *     histograms with K bins over [0, K−1] (values outside are not counted, as {@code torch.histc});
 *     summed over images in float64;</li>
 * <li>aAcc = ΣI / Σarea_gt; IoU = I/U and Acc = I/area_gt per class, 0/0 = NaN (a class absent from
 *     the ground truth and the prediction has IoU NaN; absent from the ground truth only: IoU 0, Acc NaN);
 *     mIoU, mAcc = mean over the non-NaN classes; the report rounds as mmseg: {@code round(100·x, 2) / 100}
 *     with numpy's round-half-even.</li>
 * </ul>
 * Unlike mmseg, the caller's ground-truth array is never modified. Not thread-safe; one instance per evaluation.
 */
public final class SegMetrics {
    public static final int IGNORE = 255;

    private final int numClasses;
    private final boolean reduceZeroLabel;
    private final Map<Integer, Integer> labelMap;
    private final double[] intersect, union, predArea, labelArea;
    private int images;

    /** Metrics over {@code numClasses} classes; {@code reduceZeroLabel} as the dataset says (ADE20K: true). */
    public SegMetrics(int numClasses, boolean reduceZeroLabel) { this(numClasses, reduceZeroLabel, Map.of()); }

    /** With mmseg's {@code label_map} (old id → new id, applied before reduce_zero_label). */
    public SegMetrics(int numClasses, boolean reduceZeroLabel, Map<Integer, Integer> labelMap) {
        if (numClasses < 1) throw new IllegalArgumentException("numClasses " + numClasses);
        this.numClasses = numClasses;
        this.reduceZeroLabel = reduceZeroLabel;
        this.labelMap = Map.copyOf(labelMap);
        intersect = new double[numClasses];
        union = new double[numClasses];
        predArea = new double[numClasses];
        labelArea = new double[numClasses];
    }

    public int numClasses() { return numClasses; }

    public int images() { return images; }

    /** Adds one image: {@code pred} class ids (h·w, row-major) against the raw uint8 ground truth. */
    public void add(int[] pred, byte[] rawGt, int h, int w) {
        int[] g = new int[rawGt.length];
        for (int i = 0; i < g.length; i++) g[i] = rawGt[i] & 0xff;
        accumulate(pred, prepare(g, true), h, w);
    }

    /** Adds one image whose ground truth is a wider integer type (int64 semantics: no uint8 wrap). */
    public void add(int[] pred, int[] rawGt, int h, int w) { accumulate(pred, prepare(rawGt.clone(), false), h, w); }

    /**
     * Adds one image whose ground truth is already in training form (classes 0..K−1, 255 = ignore):
     * no label_map and no reduce_zero_label are applied.
     */
    public void addPrepared(int[] pred, int[] gt, int h, int w) { accumulate(pred, gt, h, w); }

    /** mmseg's ground-truth preparation, on a copy: label_map, then reduce_zero_label. */
    int[] prepare(int[] g, boolean uint8) {
        if (!labelMap.isEmpty()) {
            int[] src = g.clone();
            for (var e : labelMap.entrySet())
                for (int i = 0; i < g.length; i++) if (src[i] == e.getKey()) g[i] = uint8 ? Math.floorMod(e.getValue(), 256) : e.getValue();
        }
        if (reduceZeroLabel) {
            for (int i = 0; i < g.length; i++) {
                int v = g[i] == 0 ? 255 : g[i];
                v = v - 1;
                if (uint8) v = Math.floorMod(v, 256);
                g[i] = v == 254 ? 255 : v;
            }
        }
        return g;
    }

    private void accumulate(int[] pred, int[] gt, int h, int w) {
        int n = h * w;
        if (pred.length != n || gt.length != n)
            throw new IllegalArgumentException("prediction has " + pred.length + " pixels, ground truth " + gt.length + ", expected " + h + "x" + w);
        long[] in = new long[numClasses], ap = new long[numClasses], ag = new long[numClasses];
        for (int i = 0; i < n; i++) {
            int g = gt[i];
            if (g == IGNORE) continue;
            int p = pred[i];
            if (p >= 0 && p < numClasses) {
                ap[p]++;
                if (p == g) in[p]++;
            }
            if (g >= 0 && g < numClasses) ag[g]++;
        }
        for (int k = 0; k < numClasses; k++) {
            intersect[k] += in[k];
            predArea[k] += ap[k];
            labelArea[k] += ag[k];
            union[k] += (double) ap[k] + ag[k] - in[k];
        }
        images++;
    }

    /**
     * The metrics so far. Arrays are per class; NaN where 0/0. {@code eval*} are mmseg's reported
     * values, {@code round(100·x, 2) / 100}.
     */
    public record Result(double[] areaIntersect, double[] areaUnion, double[] areaPred, double[] areaLabel,
                         double aAcc, double[] iou, double[] acc, double mIoU, double mAcc, int images) {
        public double evalAAcc() { return round(aAcc); }
        public double evalMIoU() { return round(mIoU); }
        public double evalMAcc() { return round(mAcc); }
        public double[] evalIoU() { return round(iou); }
        public double[] evalAcc() { return round(acc); }
    }

    public Result result() {
        double[] iou = new double[numClasses], acc = new double[numClasses];
        double si = 0, sl = 0;
        for (int k = 0; k < numClasses; k++) {
            iou[k] = intersect[k] / union[k];
            acc[k] = intersect[k] / labelArea[k];
            si += intersect[k];
            sl += labelArea[k];
        }
        return new Result(intersect.clone(), union.clone(), predArea.clone(), labelArea.clone(), si / sl, iou, acc,
                nanmean(iou), nanmean(acc), images);
    }

    /** numpy's nanmean: mean over the non-NaN values, NaN when there is none. */
    public static double nanmean(double[] v) {
        double s = 0;
        int n = 0;
        for (double x : v) if (!Double.isNaN(x)) { s += x; n++; }
        return n == 0 ? Double.NaN : s / n;
    }

    /** {@code np.round(x * 100, 2) / 100}: numpy rounds by rint(x·10^d)/10^d (half to even). */
    public static double round(double x) { return Math.rint(x * 100 * 100) / 100 / 100; }

    static double[] round(double[] v) {
        double[] o = new double[v.length];
        for (int i = 0; i < v.length; i++) o[i] = round(v[i]);
        return o;
    }

    // ---- tables ----

    /**
     * Writes {@code seg_metrics.md} (per-class IoU/Acc in % and the summary, as mmseg's log tables),
     * {@code seg_metrics.csv} (per class, then aAcc/mIoU/mAcc rows) and {@code seg_metrics.json}
     * (exact values; NaN as null, plus mmseg's rounded figures) into {@code dir}, atomically.
     */
    public void writeTables(Path dir, List<String> classNames) throws IOException { writeTables(result(), dir, classNames); }

    public static void writeTables(Result r, Path dir, List<String> classNames) throws IOException {
        Files.createDirectories(dir);
        int k = r.iou().length;
        List<String> names = new ArrayList<>();
        for (int i = 0; i < k; i++) names.add(classNames != null && i < classNames.size() ? classNames.get(i) : "class" + i);
        write(dir.resolve("seg_metrics.md"), markdown(r, names));
        write(dir.resolve("seg_metrics.csv"), csv(r, names));
        write(dir.resolve("seg_metrics.json"), json(r, names));
    }

    private static void write(Path p, String text) throws IOException {
        AtomicFiles.write(p, out -> out.write(text.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    }

    /** Percent with 2 decimals as mmseg prints it; "nan" for NaN. */
    static String pct(double x) { return Double.isNaN(x) ? "nan" : String.format(Locale.ROOT, "%.2f", Math.rint(x * 100 * 100) / 100); }

    public static String markdown(Result r, List<String> names) {
        StringBuilder sb = new StringBuilder();
        sb.append("| Class | IoU | Acc |\n|---|---|---|\n");
        for (int i = 0; i < names.size(); i++)
            sb.append("| ").append(names.get(i).strip()).append(" | ").append(pct(r.iou()[i])).append(" | ").append(pct(r.acc()[i])).append(" |\n");
        sb.append("\n| aAcc | mIoU | mAcc |\n|---|---|---|\n");
        sb.append("| ").append(pct(r.aAcc())).append(" | ").append(pct(r.mIoU())).append(" | ").append(pct(r.mAcc())).append(" |\n");
        return sb.toString();
    }

    public static String csv(Result r, List<String> names) {
        StringBuilder sb = new StringBuilder("class,name,iou,acc,area_intersect,area_union,area_pred,area_label\n");
        for (int i = 0; i < names.size(); i++)
            sb.append(i).append(',').append(csvField(names.get(i).strip())).append(',').append(num(r.iou()[i])).append(',')
                    .append(num(r.acc()[i])).append(',').append((long) r.areaIntersect()[i]).append(',').append((long) r.areaUnion()[i])
                    .append(',').append((long) r.areaPred()[i]).append(',').append((long) r.areaLabel()[i]).append('\n');
        sb.append("summary,aAcc,").append(num(r.aAcc())).append(",,,,,\n");
        sb.append("summary,mIoU,").append(num(r.mIoU())).append(",,,,,\n");
        sb.append("summary,mAcc,").append(num(r.mAcc())).append(",,,,,\n");
        return sb.toString();
    }

    private static String num(double x) { return Double.isNaN(x) ? "nan" : Double.toString(x); }

    private static String csvField(String s) { return s.contains(",") || s.contains("\"") ? "\"" + s.replace("\"", "\"\"") + "\"" : s; }

    public static String json(Result r, List<String> names) {
        ObjectMapper m = new ObjectMapper();
        ObjectNode root = m.createObjectNode();
        root.put("images", r.images());
        putNum(root, "aAcc", r.aAcc());
        putNum(root, "mIoU", r.mIoU());
        putNum(root, "mAcc", r.mAcc());
        ObjectNode ev = root.putObject("mmseg_rounded");
        putNum(ev, "aAcc", r.evalAAcc());
        putNum(ev, "mIoU", r.evalMIoU());
        putNum(ev, "mAcc", r.evalMAcc());
        ArrayNode cls = root.putArray("classes");
        for (int i = 0; i < names.size(); i++) {
            ObjectNode c = cls.addObject();
            c.put("class", i);
            c.put("name", names.get(i));
            putNum(c, "IoU", r.iou()[i]);
            putNum(c, "Acc", r.acc()[i]);
            putNum(c, "IoU_rounded", round(r.iou()[i]));
            putNum(c, "Acc_rounded", round(r.acc()[i]));
            c.put("area_intersect", (long) r.areaIntersect()[i]);
            c.put("area_union", (long) r.areaUnion()[i]);
            c.put("area_pred", (long) r.areaPred()[i]);
            c.put("area_label", (long) r.areaLabel()[i]);
        }
        try {
            return m.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n";
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void putNum(ObjectNode n, String k, double v) {
        if (Double.isNaN(v)) n.putNull(k);
        else n.put(k, v);
    }
}
