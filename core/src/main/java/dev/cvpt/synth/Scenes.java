package dev.cvpt.synth;

import java.util.ArrayList;
import java.util.List;

import dev.cvpt.synth.Canvas.Disk;
import dev.cvpt.synth.Canvas.Polygon;
import dev.cvpt.synth.Canvas.Region;

/**
 * The drawing code of each task. All sizes are fractions of the image size so that a task looks the
 * same at 32 and 48 px. Colour convention shared by the oracles in the tests: objects are vivid
 * (chroma = max - min channel >= 0.7 * 0.7 * 255 = 124), backgrounds and clutter are muted (chroma
 * <= 2 * 20 + rounding), the position marker is near-white (every channel >= 240) and nothing else is.
 */
final class Scenes {
    private Scenes() {}

    /** Class order of the colour task and the hue (degrees) of each class. */
    static final String[] COLOUR_NAMES = {"red", "green", "blue", "yellow"};
    static final double[] COLOUR_HUES = {0, 120, 235, 58};
    static final double HUE_JITTER = 10;
    static final int ORIENTATION_BINS = 4;

    enum Kind { DISK, SQUARE, TRIANGLE }

    // ---- tasks ----

    /** label + 1 vivid shapes of random kind, size and colour; muted lines as clutter. */
    static void count(Canvas c, Rng r, int label) {
        gradientBackground(c, r);
        clutterLines(c, r, 2, 4);
        int n = label + 1, s = c.size;
        double gap = gap(s), scale = 1;
        for (int attempt = 0; ; attempt++) {            // rarely needed: retry the layout with smaller shapes
            Layout lay = new Layout(s, gap);
            double[][] at = new double[n][];
            double[] rad = new double[n];
            int placed = 0;
            while (placed < n) {
                rad[placed] = Math.max(2.5, s * r.uniform(0.07, 0.13) * scale);
                if ((at[placed] = lay.place(r, rad[placed], 100)) == null) break;
                placed++;
            }
            if (placed == n) {
                for (int i = 0; i < n; i++)
                    c.fill(shape(randomKind(r), at[i][0], at[i][1], rad[i], r.uniform(0, 2 * Math.PI)), vivid(r));
                return;
            }
            if (attempt == 30) throw new IllegalStateException("cannot place " + n + " shapes in " + s + " px");
            scale *= 0.9;
        }
    }

    /**
     * One white-bordered shape whose centre lies in grid cell {@code label} (row-major, g x g cells,
     * kept 6% of the image away from cell edges so that the cell is never ambiguous), among 2..4
     * unmarked or dark-bordered vivid shapes.
     */
    static void position(Canvas c, Rng r, int label, int g) {
        gradientBackground(c, r);
        clutterLines(c, r, 2, 4);
        int s = c.size;
        double bw = Math.max(1.5, 0.04 * s), cellW = (double) s / g, margin = 0.06 * s;
        Layout lay = new Layout(s, gap(s));

        Kind kind = r.chance(0.5) ? Kind.DISK : Kind.SQUARE;
        double rad = s * r.uniform(0.08, 0.12), outer = bordered(kind, rad, bw), rot = r.uniform(0, Math.PI / 2);
        double cx = coordInCell(r, label % g, cellW, margin, outer, s), cy = coordInCell(r, label / g, cellW, margin, outer, s);
        lay.addCircle(cx, cy, outer);
        int white = 255 - r.between(0, 15);
        c.fill(shape(kind, cx, cy, outer, rot), Canvas.rgb(white, white, white));
        c.fill(shape(kind, cx, cy, rad, rot), vivid(r));

        int k = r.between(2, 4);
        for (int i = 0; i < k; i++) {
            Kind dk = randomKind(r);
            double dr = s * r.uniform(0.08, 0.12), drot = r.uniform(0, 2 * Math.PI);
            boolean border = r.chance(0.5);
            double dout = border ? bordered(dk, dr, bw) : dr;
            double[] p = lay.place(r, dout, 60);
            if (p == null) continue;
            if (border) c.fill(shape(dk, p[0], p[1], dout, drot), muted(r, 10, 60, 6));
            c.fill(shape(dk, p[0], p[1], dr, drot), vivid(r));
        }
    }

    /**
     * A vivid bar at angle theta (counter-clockwise from horizontal, as seen) in bin {@code label}:
     * bins are centred on label * 180 / bins degrees and theta keeps 10% of a bin away from the bin
     * edges; 2..4 small round / square distractors and muted lines (which have orientations too).
     */
    static void orientation(Canvas c, Rng r, int label, int bins) {
        gradientBackground(c, r);
        clutterLines(c, r, 2, 4);
        int s = c.size;
        double theta = (label + (r.next() - 0.5) * 0.8) * Math.PI / bins;
        double len = s * r.uniform(0.55, 0.72), wid = Math.max(3, s * r.uniform(0.10, 0.14));
        double cx = s * (0.5 + r.uniform(-0.08, 0.08)), cy = s * (0.5 + r.uniform(-0.08, 0.08));
        double hx = len / 2 * StrictMath.cos(theta), hy = -len / 2 * StrictMath.sin(theta);
        Layout lay = new Layout(s, gap(s));
        lay.addSegment(cx - hx, cy - hy, cx + hx, cy + hy, wid / 2);
        c.fill(Polygon.rect(cx, cy, len, wid, theta), vivid(r));

        int k = r.between(2, 4);
        for (int i = 0; i < k; i++) {
            Kind dk = r.chance(0.5) ? Kind.DISK : Kind.SQUARE;
            double dr = Math.max(2, s * r.uniform(0.05, 0.08));
            double[] p = lay.place(r, dr, 60);
            if (p != null) c.fill(shape(dk, p[0], p[1], dr, r.uniform(0, 2 * Math.PI)), vivid(r));
        }
    }

    /**
     * A large disk of class colour {@code label} among 2..4 smaller shapes (radius 30..55% of the
     * disk's) whose colours are those of the other classes; hue jitter +-10 degrees.
     */
    static void colour(Canvas c, Rng r, int label) {
        gradientBackground(c, r);
        clutterLines(c, r, 2, 4);
        int s = c.size;
        double rad = s * r.uniform(0.17, 0.23);
        Layout lay = new Layout(s, gap(s));
        double[] p = lay.place(r, rad, 1);                 // the layout is empty: the first draw fits
        c.fill(new Disk(p[0], p[1], rad), classColour(r, label));

        int k = r.between(2, 4);
        for (int i = 0; i < k; i++) {
            int other = (label + 1 + r.nextInt(COLOUR_HUES.length - 1)) % COLOUR_HUES.length;
            Kind dk = randomKind(r);
            double dr = rad * r.uniform(0.30, 0.55);
            double[] q = lay.place(r, dr, 60);
            if (q != null) c.fill(shape(dk, q[0], q[1], dr, r.uniform(0, 2 * Math.PI)), classColour(r, other));
        }
    }

    /**
     * The simplest task (the training acceptance check): the colour of one large disk (27..35% of the
     * image's radius) on a flat grey background, with 2..4 small squares of any class colour.
     */
    static void disk(Canvas c, Rng r, int label) {
        int s = c.size, g = r.between(90, 160);
        fillRect(c, 0, 0, s, s, (g << 16) | (g << 8) | g);
        double rad = s * r.uniform(0.27, 0.35);
        double cx = r.uniform(rad, s - rad), cy = r.uniform(rad, s - rad);
        c.fill(new Disk(cx, cy, rad), classColour(r, label));
        int k = r.between(2, 4);
        for (int i = 0; i < k; i++) {
            double h = s * r.uniform(0.02, 0.05), x = r.uniform(h, s - h), y = r.uniform(h, s - h);
            fillRect(c, x - h, y - h, x + h, y + h, classColour(r, r.nextInt(COLOUR_HUES.length)));
        }
    }

    // ---- the demo's simple structured tasks: one thing to look at, on a plain dark background ----

    private static int darkBackground(Canvas c, Rng r) {
        int s = c.size, g = r.between(40, 100), b = Math.min(255, g + r.between(0, 30));
        fillRect(c, 0, 0, s, s, (g << 16) | (g << 8) | b);
        return g;
    }

    private static int bright(Rng r) { return (r.between(150, 255) << 16) | (r.between(150, 255) << 8) | r.between(150, 255); }

    /** quadrant: the quadrant (label 0..3: left-top, right-top, left-bottom, right-bottom) of one disk. */
    static void quadrant(Canvas c, Rng r, int label) {
        darkBackground(c, r);
        int s = c.size;
        double rad = s * r.uniform(0.09, 0.17), half = s / 2.0;
        int qx = label % 2, qy = label / 2;
        double cx = r.uniform(qx * half + rad + 1, (qx + 1) * half - rad - 1), cy = r.uniform(qy * half + rad + 1, (qy + 1) * half - rad - 1);
        c.fill(new Disk(cx, cy, rad), bright(r));
    }

    /** number: how many (1..4, label = n - 1) equal disks of one colour, apart from each other. */
    static void number(Canvas c, Rng r, int label) {
        darkBackground(c, r);
        int s = c.size, col = bright(r);
        double rad = s * 0.09;
        List<double[]> placed = new ArrayList<>();
        while (placed.size() < label + 1) {
            double cx = r.uniform(rad + 1, s - rad - 1), cy = r.uniform(rad + 1, s - rad - 1);
            boolean free = true;
            for (double[] p : placed) free &= Math.hypot(cx - p[0], cy - p[1]) > 2 * rad + 0.1 * s;
            if (free) placed.add(new double[]{cx, cy});
        }
        for (double[] p : placed) c.fill(new Disk(p[0], p[1], rad), col);
    }

    /** angle: the angle of one bar, 4 bins centred on 0/45/90/135 degrees (+-10). */
    static void angle(Canvas c, Rng r, int label) {
        darkBackground(c, r);
        int s = c.size;
        double a = Math.toRadians(label * 45 + r.uniform(-10, 10)), len = s * r.uniform(0.55, 0.8), w = Math.max(2, s * 0.09);
        double m = len / 2 + 1;
        double cx = r.uniform(Math.min(m, s / 2.0), Math.max(s - m, s / 2.0)), cy = r.uniform(Math.min(m, s / 2.0), Math.max(s - m, s / 2.0));
        c.fill(Canvas.Polygon.rect(cx, cy, len, w, a), bright(r));
    }

    /**
     * Pretraining for the demo backbone: 1..3 objects of one kind (disk, square, triangle) and one hue
     * band (8 bands of 45 degrees) on a cloudy background; label = kind * 8 + band (24 classes). It
     * teaches shapes and colours without being any of the demo's tasks (which ask how many, where,
     * which angle, which colour among distractors).
     */
    static void shapes(Canvas c, Rng r, int label) {
        cloudyBackground(c, r);
        Kind kind = Kind.values()[label / 8];
        double hue = (label % 8) * 45 + r.uniform(-15, 15);
        int s = c.size, n = r.between(1, 3);
        Layout lay = new Layout(s, gap(s));
        for (int i = 0; i < n; i++) {
            double rad = s * r.uniform(0.10, 0.2);
            double[] q = lay.place(r, rad, 60);
            if (q != null) c.fill(shape(kind, q[0], q[1], rad, r.uniform(0, 2 * Math.PI)), vivid(r, hue));
        }
    }

    /**
     * Pretraining: one glyph of class {@code label} (see {@link Glyphs}), 50..80% of the image wide, as
     * a mosaic of vivid cells of one random hue (+-15 degrees per cell), on a cloudy muted background.
     * Deliberately unlike the other tasks: one big blocky object, no flat gradient, no lines.
     */
    static void pretrain(Canvas c, Rng r, int label) {
        cloudyBackground(c, r);
        boolean[] glyph = Glyphs.bitmap(label);
        int s = c.size, n = Glyphs.GRID;
        double size = s * r.uniform(0.5, 0.8), cell = size / n;
        double x0 = r.uniform(1, s - size - 1), y0 = r.uniform(1, s - size - 1), hue = r.uniform(0, 360);
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++)
                if (glyph[y * n + x])
                    fillRect(c, x0 + x * cell, y0 + y * cell, x0 + (x + 1) * cell, y0 + (y + 1) * cell,
                            Canvas.hsv(hue + r.uniform(-15, 15), r.uniform(0.7, 1), r.uniform(0.7, 1)));
    }

    // ---- pieces ----

    static Region shape(Kind k, double cx, double cy, double r, double rot) {
        return switch (k) {
            case DISK -> new Disk(cx, cy, r);
            case SQUARE -> Polygon.regular(4, cx, cy, r, rot);
            case TRIANGLE -> Polygon.regular(3, cx, cy, r, rot);
        };
    }

    private static Kind randomKind(Rng r) { return Kind.values()[r.nextInt(Kind.values().length)]; }

    /** Circumradius of the shape grown by a border of width bw (an n-gon's inradius is R cos(pi/n)). */
    private static double bordered(Kind k, double r, double bw) {
        return switch (k) {
            case DISK -> r + bw;
            case SQUARE -> r + bw * Math.sqrt(2);
            case TRIANGLE -> r + bw * 2;
        };
    }

    private static double coordInCell(Rng r, int cell, double cellW, double margin, double outer, int s) {
        double lo = Math.max(cell * cellW + margin, outer + 1), hi = Math.min((cell + 1) * cellW - margin, s - outer - 1);
        return hi > lo ? r.uniform(lo, hi) : (lo + hi) / 2;
    }

    /** Space kept between objects: >= 2 px so that no two objects touch, even diagonally. */
    private static double gap(int s) { return Math.max(2, 0.04 * s); }

    static int vivid(Rng r) { return vivid(r, r.uniform(0, 360)); }

    static int vivid(Rng r, double hue) { return Canvas.hsv(hue, r.uniform(0.75, 1), r.uniform(0.7, 1)); }

    private static int classColour(Rng r, int cls) { return vivid(r, COLOUR_HUES[cls] + r.uniform(-HUE_JITTER, HUE_JITTER)); }

    /** A grey level in [lo, hi] with each channel tinted by up to +-tint: chroma <= 2 * tint. */
    static int muted(Rng r, int lo, int hi, int tint) {
        int g = r.between(lo, hi);
        return Canvas.rgb(g + r.between(-tint, tint), g + r.between(-tint, tint), g + r.between(-tint, tint));
    }

    /** Linear gradient between two muted colours in a random direction, plus grey (chroma-free) noise. */
    static void gradientBackground(Canvas c, Rng r) {
        int a = muted(r, 45, 195, 14), b = muted(r, 45, 195, 14), amp = r.between(2, 7), s = c.size;
        double ang = r.uniform(0, 2 * Math.PI), dx = StrictMath.cos(ang), dy = StrictMath.sin(ang);
        double half = s / 2.0, span = s * Math.sqrt(2);
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++) {
                double t = 0.5 + ((x + 0.5 - half) * dx + (y + 0.5 - half) * dy) / span;
                c.set(x, y, lerp(a, b, t, r.between(-amp, amp)));
            }
    }

    /** Bilinear (smoothstep) blend of a 5 x 5 grid of muted colours, plus grey noise: soft blotches. */
    static void cloudyBackground(Canvas c, Rng r) {
        int g = 4, s = c.size, amp = r.between(4, 10);
        int[] grid = new int[(g + 1) * (g + 1)];
        for (int i = 0; i < grid.length; i++) grid[i] = muted(r, 35, 205, 20);
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++) {
                double u = (x + 0.5) * g / s, v = (y + 0.5) * g / s;
                int i = Math.min(g - 1, (int) u), j = Math.min(g - 1, (int) v);
                double fu = smooth(u - i), fv = smooth(v - j);
                int top = lerp(grid[j * (g + 1) + i], grid[j * (g + 1) + i + 1], fu, 0);
                int bot = lerp(grid[(j + 1) * (g + 1) + i], grid[(j + 1) * (g + 1) + i + 1], fu, 0);
                c.set(x, y, lerp(top, bot, fv, r.between(-amp, amp)));
            }
    }

    /** 2..4 (min..max) thin muted straight lines anywhere: clutter that no oracle (and no label) uses. */
    static void clutterLines(Canvas c, Rng r, int min, int max) {
        int k = r.between(min, max), s = c.size;
        for (int i = 0; i < k; i++) {
            int col = muted(r, 25, 215, 8);
            double len = s * r.uniform(0.3, 0.9), w = r.uniform(1.0, 1.6);
            double cx = r.uniform(0, s), cy = r.uniform(0, s), ang = r.uniform(0, Math.PI);
            c.fill(Polygon.rect(cx, cy, len, w, ang), col);
        }
    }

    private static double smooth(double t) { return t * t * (3 - 2 * t); }

    /** Per-channel a + (b - a) t, plus {@code add} on every channel. */
    private static int lerp(int a, int b, double t, int add) {
        t = Math.max(0, Math.min(1, t));
        int r = (int) Math.round(((a >> 16) & 255) + (((b >> 16) & 255) - ((a >> 16) & 255)) * t);
        int g = (int) Math.round(((a >> 8) & 255) + (((b >> 8) & 255) - ((a >> 8) & 255)) * t);
        int bl = (int) Math.round((a & 255) + ((b & 255) - (a & 255)) * t);
        return Canvas.rgb(r + add, g + add, bl + add);
    }

    /** Fills the pixels whose centres lie in [x0, x1) x [y0, y1): adjacent cells tile without seams. */
    private static void fillRect(Canvas c, double x0, double y0, double x1, double y1, int rgb) {
        for (int y = Math.max(0, (int) Math.floor(y0 - 0.5)); y < c.size && y + 0.5 < y1; y++) {
            if (y + 0.5 < y0) continue;
            for (int x = Math.max(0, (int) Math.floor(x0 - 0.5)); x < c.size && x + 0.5 < x1; x++)
                if (x + 0.5 >= x0) c.set(x, y, rgb);
        }
    }
}
