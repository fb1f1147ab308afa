package dev.cvpt.verify;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cvpt.UserException;
import dev.cvpt.data.seg.Cv2Resize;
import dev.cvpt.data.seg.Normalize;
import dev.cvpt.io.DType;
import dev.cvpt.io.HostTensor;
import dev.cvpt.io.Npz;
import dev.cvpt.train.seg.SegMetrics;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The segmentation golden cases without a model: {@code metrics} (mmseg's eval_metrics on fixed
 * predictions and raw ground truths) and {@code resize} (cv2 INTER_LINEAR / INTER_NEAREST and Normalize).
 * Both are compared EXACTLY: every value equal, NaN where the golden has NaN.
 */
public final class SegGoldenCheck {
    private SegGoldenCheck() {}

    /** One entry: how many values differ and by how much at most (NaN vs number counts as a mismatch). */
    record Cmp(long mismatches, double maxAbs, long n) {
        boolean ok() { return mismatches == 0; }

        Map<String, Object> json() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("values", n);
            m.put("mismatches", mismatches);
            m.put("max_abs", maxAbs);
            m.put("exact", ok());
            return m;
        }
    }

    static Cmp compare(double[] mine, double[] ref) {
        if (mine.length != ref.length) return new Cmp(Math.max(mine.length, ref.length), Double.POSITIVE_INFINITY, ref.length);
        long bad = 0;
        double max = 0;
        for (int i = 0; i < ref.length; i++) {
            boolean nm = Double.isNaN(mine[i]), nr = Double.isNaN(ref[i]);
            if (nm || nr) {
                if (nm != nr) { bad++; max = Double.POSITIVE_INFINITY; }
                continue;
            }
            if (mine[i] != ref[i]) {
                bad++;
                max = Math.max(max, Math.abs(mine[i] - ref[i]));
            }
        }
        return new Cmp(bad, max, ref.length);
    }

    /** config.kind = metrics. */
    public static GoldenCases.Outcome metrics(Path caseFile, Path checkpointIgnored) {
        JsonNode cfg = GoldenCheck.config(caseFile);
        Map<String, HostTensor> g = Npz.read(caseFile);
        int k = need(caseFile, cfg, "num_classes").asInt();
        int ignore = cfg.path("ignore_index").asInt(SegMetrics.IGNORE);
        if (ignore != SegMetrics.IGNORE) throw new UserException(caseFile + ": config.ignore_index " + ignore + " (only 255 is supported)");
        boolean rzl = cfg.path("reduce_zero_label").asBoolean(false);
        Map<Integer, Integer> labelMap = new LinkedHashMap<>();
        JsonNode lm = cfg.get("label_map");
        if (lm != null && lm.isObject()) lm.fields().forEachRemaining(e -> labelMap.put(Integer.parseInt(e.getKey()), e.getValue().asInt()));
        SegMetrics m = new SegMetrics(k, rzl, labelMap);
        int n = cfg.path("num_images").asInt(-1);
        for (int i = 0; n < 0 ? g.containsKey("preds/" + i) : i < n; i++) {
            HostTensor p = tensor(caseFile, g, "preds/" + i), t = tensor(caseFile, g, "gts/" + i);
            long[] s = t.shape();
            int h = (int) s[0], w = (int) s[1];
            int[] pred = toInts(p.toLongs());
            if (t.dtype() == DType.U8) {
                long[] v = t.toLongs();
                byte[] b = new byte[v.length];
                for (int j = 0; j < v.length; j++) b[j] = (byte) v[j];
                m.add(pred, b, h, w);
            } else {
                m.add(pred, toInts(t.toLongs()), h, w);
            }
        }
        SegMetrics.Result r = m.result();
        Map<String, double[]> ours = new LinkedHashMap<>();
        ours.put("area_intersect", r.areaIntersect());
        ours.put("area_union", r.areaUnion());
        ours.put("area_pred_label", r.areaPred());
        ours.put("area_label", r.areaLabel());
        ours.put("aAcc", new double[]{r.aAcc()});
        ours.put("IoU", r.iou());
        ours.put("Acc", r.acc());
        ours.put("mIoU", new double[]{r.mIoU()});
        ours.put("mAcc", new double[]{r.mAcc()});
        ours.put("eval_aAcc", new double[]{r.evalAAcc()});
        ours.put("eval_mIoU", new double[]{r.evalMIoU()});
        ours.put("eval_mAcc", new double[]{r.evalMAcc()});
        ours.put("eval_IoU", r.evalIoU());
        ours.put("eval_Acc", r.evalAcc());
        Map<String, Cmp> entries = new LinkedHashMap<>();
        Map<String, HostTensor> computed = new LinkedHashMap<>();
        for (var e : ours.entrySet()) {
            HostTensor ref = g.get(e.getKey());
            computed.put(e.getKey(), f64(e.getValue(), ref != null ? ref.shape() : new long[]{e.getValue().length}));
            if (ref != null) entries.put(e.getKey(), compare(e.getValue(), toDoubles(ref)));
        }
        return outcome(caseFile, "metrics", entries, computed);
    }

    /** config.kind = resize. */
    public static GoldenCases.Outcome resize(Path caseFile, Path checkpointIgnored) {
        JsonNode cfg = GoldenCheck.config(caseFile);
        Map<String, HostTensor> g = Npz.read(caseFile);
        HostTensor img = tensor(caseFile, g, "img");
        int h = (int) img.shape()[0], w = (int) img.shape()[1], cn = img.rank() == 3 ? (int) img.shape()[2] : 1;
        JsonNode scale = need(caseFile, cfg, "scale");
        Cv2Resize.Size size = Cv2Resize.rescaleSize(w, h, scale.get(0).asInt(), scale.get(1).asInt());
        Map<String, Cmp> entries = new LinkedHashMap<>();
        Map<String, HostTensor> computed = new LinkedHashMap<>();
        JsonNode wh = cfg.get("new_wh");
        if (wh != null)
            entries.put("new_wh", compare(new double[]{size.width(), size.height()}, new double[]{wh.get(0).asDouble(), wh.get(1).asDouble()}));
        byte[] resized = Cv2Resize.linear(bytes(img), w, h, cn, size.width(), size.height());
        long[] shape = cn == 1 ? new long[]{size.height(), size.width()} : new long[]{size.height(), size.width(), cn};
        computed.put("resized", u8(resized, shape));
        entries.put("resized", compare(toDoubles(computed.get("resized")), toDoubles(tensor(caseFile, g, "resized"))));
        if (g.containsKey("normalized") && cn == 3) {
            JsonNode nc = cfg.path("normalize");
            Normalize norm = nc.has("mean") ? Normalize.of(doubles(nc.get("mean")), doubles(nc.get("std"))) : Normalize.IMAGENET;
            if (!nc.path("to_rgb").asBoolean(true)) throw new UserException(caseFile + ": config.normalize.to_rgb false is not supported");
            float[] chw = norm.toChwRgb(resized, size.width(), size.height());
            int n = size.width() * size.height();
            float[] hwc = new float[3 * n];
            for (int i = 0; i < n; i++) for (int c = 0; c < 3; c++) hwc[3 * i + c] = chw[c * n + i];
            computed.put("normalized", HostTensor.ofFloats(hwc, size.height(), size.width(), 3));
            entries.put("normalized", compare(toDoubles(computed.get("normalized")), toDoubles(g.get("normalized"))));
        }
        if (g.containsKey("label")) {
            HostTensor lab = g.get("label");
            int lh = (int) lab.shape()[0], lw = (int) lab.shape()[1];
            Cv2Resize.Size ls = Cv2Resize.rescaleSize(lw, lh, scale.get(0).asInt(), scale.get(1).asInt());
            byte[] lr = Cv2Resize.nearest(bytes(lab), lw, lh, 1, ls.width(), ls.height());
            computed.put("label_resized", u8(lr, new long[]{ls.height(), ls.width()}));
            entries.put("label_resized", compare(toDoubles(computed.get("label_resized")), toDoubles(tensor(caseFile, g, "label_resized"))));
        }
        return outcome(caseFile, "resize", entries, computed);
    }

    private static GoldenCases.Outcome outcome(Path caseFile, String kind, Map<String, Cmp> entries, Map<String, HostTensor> computed) {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("case", caseFile.toString());
        json.put("kind", kind);
        json.put("comparison", "exact (every value equal, NaN at the same positions)");
        Map<String, Object> es = new LinkedHashMap<>();
        List<String> bad = new ArrayList<>();
        entries.forEach((n, c) -> {
            es.put(n, c.json());
            if (!c.ok()) bad.add(n);
        });
        json.put("entries", es);
        json.put("over_tolerance", bad);
        boolean passed = bad.isEmpty() && !entries.isEmpty();
        json.put("passed", passed);
        return new GoldenCases.Outcome(passed, json, computed);
    }

    // ---- helpers ----

    private static JsonNode need(Path file, JsonNode cfg, String key) {
        JsonNode n = cfg.get(key);
        if (n == null || n.isNull()) throw new UserException(file + ": config." + key + " is missing");
        return n;
    }

    private static HostTensor tensor(Path file, Map<String, HostTensor> m, String name) {
        HostTensor t = m.get(name);
        if (t == null) throw new UserException(file + ": the case has no entry '" + name + "'");
        return t;
    }

    private static double[] doubles(JsonNode a) {
        double[] d = new double[a.size()];
        for (int i = 0; i < d.length; i++) d[i] = a.get(i).asDouble();
        return d;
    }

    static double[] toDoubles(HostTensor t) {
        int n = Math.toIntExact(t.numel());
        double[] d = new double[n];
        ByteBuffer b = t.data();
        if (t.dtype() == DType.F64) {
            for (int i = 0; i < n; i++) d[i] = b.getDouble(b.position() + 8 * i);
        } else if (t.dtype().isFloating()) {
            float[] f = t.toFloats();
            for (int i = 0; i < n; i++) d[i] = f[i];
        } else {
            long[] l = t.toLongs();
            for (int i = 0; i < n; i++) d[i] = l[i];
        }
        return d;
    }

    private static int[] toInts(long[] v) {
        int[] o = new int[v.length];
        for (int i = 0; i < v.length; i++) o[i] = Math.toIntExact(v[i]);
        return o;
    }

    private static byte[] bytes(HostTensor t) {
        if (t.dtype() != DType.U8) throw new UserException("expected a uint8 array, got " + t);
        long[] v = t.toLongs();
        byte[] b = new byte[v.length];
        for (int i = 0; i < v.length; i++) b[i] = (byte) v[i];
        return b;
    }

    private static HostTensor u8(byte[] v, long[] shape) {
        return new HostTensor(DType.U8, shape, ByteBuffer.wrap(v.clone()));
    }

    private static HostTensor f64(double[] v, long[] shape) {
        ByteBuffer b = ByteBuffer.allocate(8 * v.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (double x : v) b.putDouble(x);
        b.flip();
        return new HostTensor(DType.F64, shape, b);
    }
}
