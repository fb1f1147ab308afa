package dev.cvpt.synth;

import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;

/**
 * Recovers the label of a synthetic image from its pixels alone, by plain image analysis (colour
 * thresholds, connected components, moments). If an oracle this simple agrees with the labels, the
 * label is visible in the image, i.e. the task is learnable. Thresholds follow the colour convention
 * of {@link Scenes}: objects have chroma >= 124, backgrounds and clutter <= ~42, markers are white.
 */
final class Oracles {
    private Oracles() {}

    static final int VIVID_CHROMA = 90, WHITE_MIN = 235;

    static int predict(String task, BufferedImage img) {
        return switch (task) {
            case "count" -> count(img);
            case "position" -> position(img, 2);
            case "position9" -> position(img, 3);
            case "orientation" -> orientation(img);
            case "colour", "disk" -> colour(img);
            case "pretrain" -> pretrain(img);
            case "shapes" -> shapes(img);
            case "quadrant" -> quadrant(img);
            case "number" -> (int) components(brightMask(img), null, img.getWidth()).stream().filter(c -> c.length >= 3).count() - 1;
            case "angle" -> orientation(brightMask(img), img.getWidth());
            default -> throw new IllegalArgumentException(task);
        };
    }

    /** Number of vivid blobs (ignoring 1-2 pixel specks), minus one. */
    static int count(BufferedImage img) {
        long n = components(vividMask(img), null, img.getWidth()).stream().filter(c -> c.length >= 3).count();
        return n == 0 ? -1 : (int) Math.min(n, 4) - 1;
    }

    /** Grid cell of the centroid of the near-white pixels. */
    static int position(BufferedImage img, int g) {
        int s = img.getWidth();
        double sx = 0, sy = 0;
        int n = 0;
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++) {
                int p = img.getRGB(x, y);
                if (Math.min(Math.min((p >> 16) & 255, (p >> 8) & 255), p & 255) >= WHITE_MIN) {
                    sx += x + 0.5;
                    sy += y + 0.5;
                    n++;
                }
            }
        if (n == 0) return -1;
        int col = Math.min(g - 1, (int) (sx / n / s * g)), row = Math.min(g - 1, (int) (sy / n / s * g));
        return row * g + col;
    }

    /** Major axis of the largest vivid blob (second moments), binned like the generator's 4 bins. */
    static int orientation(BufferedImage img) { return orientation(vividMask(img), img.getWidth()); }

    static int orientation(boolean[] mask, int s) {
        int[] blob = largest(components(mask, null, s));
        if (blob == null) return -1;
        double mx = 0, my = 0;
        for (int i : blob) { mx += i % s; my += i / s; }
        mx /= blob.length;
        my /= blob.length;
        double mu20 = 0, mu02 = 0, mu11 = 0;
        for (int i : blob) {
            double dx = i % s - mx, dy = i / s - my;
            mu20 += dx * dx;
            mu02 += dy * dy;
            mu11 += dx * dy;
        }
        double clockwise = 0.5 * Math.atan2(2 * mu11, mu20 - mu02);   // y points down
        double theta = Math.toDegrees(-clockwise);
        return Math.floorMod((int) Math.round(theta / 45), 4);
    }

    /** Colour class of the largest blob of one colour class. */
    static int colour(BufferedImage img) {
        int s = img.getWidth();
        boolean[] mask = vividMask(img);
        int[] cls = new int[s * s];
        for (int i = 0; i < cls.length; i++) cls[i] = mask[i] ? nearestColourClass(hue(img.getRGB(i % s, i / s))) : -1;
        int[] blob = largest(components(mask, cls, s));
        return blob == null ? -1 : cls[blob[0]];
    }

    /**
     * shapes: the hue band (8 of 45 degrees) of the largest vivid blob, and its kind from how much of
     * its bounding box it fills (a triangle fills at most half; a disk about pi/4 and round;
     * a square anything from 1/2 to 1 but with straight sides: told from a disk by its
     * distance profile from the centroid).
     */
    static int shapes(BufferedImage img) {
        int s = img.getWidth();
        boolean[] mask = vividMask(img);
        int[] blob = largest(components(mask, null, s));
        if (blob == null) return -1;
        double hx = 0, hy = 0, cx = 0, cy = 0;
        int x0 = s, y0 = s, x1 = -1, y1 = -1;
        for (int i : blob) {
            double h = Math.toRadians(hue(img.getRGB(i % s, i / s)));
            hx += Math.cos(h); hy += Math.sin(h);
            int x = i % s, y = i / s;
            cx += x; cy += y;
            x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
        }
        double hue = (Math.toDegrees(Math.atan2(hy, hx)) + 360) % 360;
        int band = (int) Math.round(hue / 45) % 8;
        double fill = blob.length / ((x1 - x0 + 1.0) * (y1 - y0 + 1.0));
        cx /= blob.length; cy /= blob.length;
        // spread of the boundary's distance from the centroid: ~0 for a disk
        java.util.Set<Integer> in = new java.util.HashSet<>();
        for (int i : blob) in.add(i);
        double sum = 0, sum2 = 0;
        int nb = 0;
        for (int i : blob) {
            int x = i % s, y = i / s;
            boolean edge = !in.contains(i - 1) || !in.contains(i + 1) || !in.contains(i - s) || !in.contains(i + s);
            if (!edge) continue;
            double d = Math.hypot(x - cx, y - cy);
            sum += d; sum2 += d * d; nb++;
        }
        double mean = sum / nb, cv = Math.sqrt(Math.max(0, sum2 / nb - mean * mean)) / mean;
        int kind = cv < 0.07 ? 0 : cv < 0.15 && fill >= 0.45 ? 1 : 2;
        return kind * 8 + band;
    }

    /** Bounding box of the vivid pixels, sampled at the 5 x 5 cell centres, nearest glyph. */
    static int pretrain(BufferedImage img) {
        int s = img.getWidth();
        boolean[] mask = vividMask(img);
        int x0 = s, y0 = s, x1 = -1, y1 = -1;
        for (int i = 0; i < mask.length; i++)
            if (mask[i]) {
                x0 = Math.min(x0, i % s);
                x1 = Math.max(x1, i % s);
                y0 = Math.min(y0, i / s);
                y1 = Math.max(y1, i / s);
            }
        if (x1 < 0) return -1;
        int n = Glyphs.GRID;
        boolean[] seen = new boolean[n * n];
        double cw = (x1 - x0 + 1.0) / n, ch = (y1 - y0 + 1.0) / n;
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++)
                seen[y * n + x] = mask[(int) (y0 + (y + 0.5) * ch) * s + (int) (x0 + (x + 0.5) * cw)];
        int best = -1, bestD = Integer.MAX_VALUE;
        for (int c = 0; c < Glyphs.COUNT; c++) {
            int d = Glyphs.distance(seen, Glyphs.bitmap(c));
            if (d < bestD) { bestD = d; best = c; }
        }
        return best;
    }

    // ---- helpers ----

    /** The demo tasks draw one bright colour (every channel >= 150) on a dark background (<= 130). */
    static boolean[] brightMask(BufferedImage img) {
        int s = img.getWidth();
        boolean[] m = new boolean[s * s];
        for (int i = 0; i < m.length; i++) {
            int rgb = img.getRGB(i % s, i / s);
            m[i] = Math.min(Math.min((rgb >> 16) & 255, (rgb >> 8) & 255), rgb & 255) >= 140;
        }
        return m;
    }

    /** Quadrant of the bright pixels' centroid (0 left-top, 1 right-top, 2 left-bottom, 3 right-bottom). */
    static int quadrant(BufferedImage img) {
        int s = img.getWidth();
        boolean[] m = brightMask(img);
        double x = 0, y = 0;
        int n = 0;
        for (int i = 0; i < m.length; i++) if (m[i]) { x += i % s; y += i / s; n++; }
        if (n == 0) return -1;
        return (x / n >= s / 2.0 - 0.5 ? 1 : 0) + (y / n >= s / 2.0 - 0.5 ? 2 : 0);
    }

    static boolean[] vividMask(BufferedImage img) {
        int s = img.getWidth();
        boolean[] m = new boolean[s * s];
        for (int i = 0; i < m.length; i++) m[i] = chroma(img.getRGB(i % s, i / s)) >= VIVID_CHROMA;
        return m;
    }

    static int chroma(int p) {
        int r = (p >> 16) & 255, g = (p >> 8) & 255, b = p & 255;
        return Math.max(r, Math.max(g, b)) - Math.min(r, Math.min(g, b));
    }

    static double hue(int p) {
        double r = ((p >> 16) & 255) / 255.0, g = ((p >> 8) & 255) / 255.0, b = (p & 255) / 255.0;
        double max = Math.max(r, Math.max(g, b)), c = max - Math.min(r, Math.min(g, b));
        if (c == 0) return 0;
        double h = max == r ? ((g - b) / c) % 6 : max == g ? (b - r) / c + 2 : (r - g) / c + 4;
        return (h * 60 + 360) % 360;
    }

    static int nearestColourClass(double hue) {
        int best = 0;
        double bestD = 999;
        for (int k = 0; k < Scenes.COLOUR_HUES.length; k++) {
            double d = Math.abs(hue - Scenes.COLOUR_HUES[k]) % 360;
            d = Math.min(d, 360 - d);
            if (d < bestD) { bestD = d; best = k; }
        }
        return best;
    }

    /** 8-connected components of the mask; with {@code key}, neighbours must also share their key. */
    static List<int[]> components(boolean[] mask, int[] key, int s) {
        List<int[]> out = new ArrayList<>();
        boolean[] seen = new boolean[mask.length];
        int[] stack = new int[mask.length], members = new int[mask.length];
        for (int start = 0; start < mask.length; start++) {
            if (!mask[start] || seen[start]) continue;
            int sp = 0, n = 0;
            stack[sp++] = start;
            seen[start] = true;
            while (sp > 0) {
                int i = stack[--sp], x = i % s, y = i / s;
                members[n++] = i;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++) {
                        int nx = x + dx, ny = y + dy, j = ny * s + nx;
                        if (nx < 0 || ny < 0 || nx >= s || ny >= s || seen[j] || !mask[j]) continue;
                        if (key != null && key[j] != key[i]) continue;
                        seen[j] = true;
                        stack[sp++] = j;
                    }
            }
            out.add(java.util.Arrays.copyOf(members, n));
        }
        return out;
    }

    static int[] largest(List<int[]> comps) {
        int[] best = null;
        for (int[] c : comps) if (best == null || c.length > best.length) best = c;
        return best;
    }
}
