package dev.cvpt.train;

import dev.cvpt.UserException;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A tuning grid: learning rates × weight decays × prompt counts. Written {@code lr=5e-3,1e-3,wd=1e-2,0}
 * (a key starts a new list; bare values add to the current key); prompts is optional (the method's
 * count when absent). The defaults are the VPT/NOAH protocol's (docs/TUNING.md).
 */
public record Grid(List<Double> lrs, List<Double> wds, List<Integer> prompts) {
    /** NOAH's AdamW learning rates for VPT/LoRA on VTAB-1k (configs/{VPT,LoRA}/VTAB/slurm_train_*_vtab.sh). */
    public static final List<Double> DEFAULT_LRS = List.of(5e-3, 1e-3);
    /** VPT's weight decays (tune_vtab.py, get_lrwd_range). */
    public static final List<Double> DEFAULT_WDS = List.of(1e-2, 1e-3, 1e-4, 0.0);
    /** VPT's seeds of the final runs (tune_vtab.py, main); --seeds N takes the first N. */
    public static final List<Long> VPT_SEEDS = List.of(42L, 44L, 82L, 100L, 800L);

    public Grid {
        if (lrs.isEmpty() || wds.isEmpty()) throw new UserException("--grid: needs at least one lr and one wd");
        for (double lr : lrs) if (!(lr > 0)) throw new UserException("--grid: lr must be positive, got " + lr);
        for (double wd : wds) if (!(wd >= 0)) throw new UserException("--grid: wd must be >= 0, got " + wd);
        if (prompts != null) for (int p : prompts) if (p < 1) throw new UserException("--grid: prompts must be at least 1, got " + p);
        lrs = List.copyOf(lrs);
        wds = List.copyOf(wds);
        prompts = prompts == null ? null : List.copyOf(prompts);
    }

    public static Grid defaults() { return new Grid(DEFAULT_LRS, DEFAULT_WDS, null); }

    /** Parses {@code lr=a,b,wd=c,d[,prompts=e,f]}; keys not given keep the defaults. */
    public static Grid parse(String text) {
        Map<String, List<String>> values = new LinkedHashMap<>();
        String key = null;
        for (String token : text.split(",")) {
            String t = token.trim();
            if (t.isEmpty()) continue;
            int eq = t.indexOf('=');
            if (eq >= 0) {
                key = t.substring(0, eq).trim().toLowerCase(Locale.ROOT);
                if (!List.of("lr", "wd", "prompts").contains(key))
                    throw new UserException("--grid: unknown key '" + key + "' (lr, wd, prompts)");
                if (values.containsKey(key)) throw new UserException("--grid: " + key + " given twice");
                values.put(key, new ArrayList<>());
                t = t.substring(eq + 1).trim();
                if (t.isEmpty()) continue;
            }
            if (key == null) throw new UserException("--grid: '" + t + "' before any key (write lr=...,wd=...)");
            values.get(key).add(t);
        }
        try {
            List<Double> lrs = values.containsKey("lr") ? values.get("lr").stream().map(Double::parseDouble).toList() : DEFAULT_LRS;
            List<Double> wds = values.containsKey("wd") ? values.get("wd").stream().map(Double::parseDouble).toList() : DEFAULT_WDS;
            List<Integer> ps = values.containsKey("prompts") ? values.get("prompts").stream().map(Integer::parseInt).toList() : null;
            return new Grid(dedup(lrs), dedup(wds), ps == null ? null : dedup(ps));
        } catch (NumberFormatException e) {
            throw new UserException("--grid: not a number in '" + text + "' (" + e.getMessage() + ")");
        }
    }

    private static <T> List<T> dedup(List<T> l) { return l.stream().distinct().toList(); }

    /** One grid point. {@code prompts} is null when the grid does not vary it. */
    public record Point(double lr, double wd, Integer prompts) {
        /** The trial's folder name, e.g. {@code lr0.005_wd0.0001} or {@code lr0.005_wd0_p10}. */
        public String folder() {
            return "lr" + num(lr) + "_wd" + num(wd) + (prompts == null ? "" : "_p" + prompts);
        }

        public static String num(double v) {
            String s = Double.toString(v);
            return s.endsWith(".0") ? s.substring(0, s.length() - 2) : s;
        }
    }

    /** Every grid point, lr-major in the order given. */
    public List<Point> points() {
        List<Point> out = new ArrayList<>();
        for (double lr : lrs)
            for (double wd : wds)
                if (prompts == null) out.add(new Point(lr, wd, null));
                else for (int p : prompts) out.add(new Point(lr, wd, p));
        return out;
    }

    @Override
    public String toString() {
        return "lr=" + join(lrs) + ",wd=" + join(wds) + (prompts == null ? "" : ",prompts=" + join(prompts));
    }

    private static String join(List<? extends Number> l) {
        return String.join(",", l.stream().map(n -> n instanceof Double d ? Point.num(d) : n.toString()).toList());
    }
}
