package dev.cvpt.synth;

import java.util.ArrayList;
import java.util.List;

/**
 * Non-overlapping placement by rejection sampling. Every object is kept as a capsule (a segment with a
 * radius; a point for round things) that contains it; new objects keep {@code gap} pixels away from
 * all of them, so objects never touch and stay separate connected components (8-neighbourhood: pixel
 * centres of two objects are then at least {@code gap} >= 2 > sqrt(2) apart).
 */
final class Layout {
    private final int size;
    private final double gap;
    private final List<double[]> taken = new ArrayList<>();   // {x1, y1, x2, y2, radius}

    Layout(int size, double gap) {
        this.size = size;
        this.gap = gap;
    }

    void addCircle(double x, double y, double r) { taken.add(new double[]{x, y, x, y, r}); }

    void addSegment(double x1, double y1, double x2, double y2, double r) { taken.add(new double[]{x1, y1, x2, y2, r}); }

    boolean free(double x, double y, double r) {
        for (double[] t : taken)
            if (segmentDistance(x, y, t) < r + t[4] + gap) return false;
        return true;
    }

    /**
     * A centre for a circle of radius r inside the image (1 px margin) and away from everything placed,
     * or null after {@code tries} rejected draws. Adds the circle when found.
     */
    double[] place(Rng rng, double r, int tries) {
        double lo = r + 1, hi = size - r - 1;
        if (hi <= lo) return null;
        for (int t = 0; t < tries; t++) {
            double x = rng.uniform(lo, hi), y = rng.uniform(lo, hi);
            if (free(x, y, r)) {
                addCircle(x, y, r);
                return new double[]{x, y};
            }
        }
        return null;
    }

    private static double segmentDistance(double px, double py, double[] s) {
        double dx = s[2] - s[0], dy = s[3] - s[1], len2 = dx * dx + dy * dy;
        double t = len2 == 0 ? 0 : Math.max(0, Math.min(1, ((px - s[0]) * dx + (py - s[1]) * dy) / len2));
        double ex = px - (s[0] + t * dx), ey = py - (s[1] + t * dy);
        return Math.sqrt(ex * ex + ey * ey);
    }
}
