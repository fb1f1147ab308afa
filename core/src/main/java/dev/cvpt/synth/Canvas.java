package dev.cvpt.synth;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferInt;

/**
 * A square RGB pixel buffer with its own rasteriser. Pixel (x, y) covers [x, x+1) x [y, y+1), y grows
 * downwards; a shape covers a pixel when it contains the pixel's centre (antialiasing OFF). We do not
 * use Graphics2D on purpose: its output depends on the JDK's rendering pipeline (Marlin version,
 * stroke control), while centre sampling with plain double arithmetic (and StrictMath for sin / cos,
 * whose Math versions may differ by an ulp between CPUs) gives the same pixels on every
 * JDK and platform, which is what lets the tests pin hashes; and flat colours keep the oracles simple.
 */
final class Canvas {
    final int size;
    final int[] px;

    Canvas(int size) {
        this.size = size;
        this.px = new int[size * size];
    }

    /** A filled shape: an inside test on pixel centres plus a bounding box to limit the scan. */
    interface Region {
        boolean contains(double x, double y);

        double minX();
        double minY();
        double maxX();
        double maxY();
    }

    record Disk(double cx, double cy, double r) implements Region {
        public boolean contains(double x, double y) {
            double dx = x - cx, dy = y - cy;
            return dx * dx + dy * dy <= r * r;
        }

        public double minX() { return cx - r; }
        public double minY() { return cy - r; }
        public double maxX() { return cx + r; }
        public double maxY() { return cy + r; }
    }

    /** A simple polygon (even-odd rule). */
    record Polygon(double[] xs, double[] ys) implements Region {
        public boolean contains(double x, double y) {
            boolean in = false;
            for (int i = 0, j = xs.length - 1; i < xs.length; j = i++) {
                if ((ys[i] > y) != (ys[j] > y)
                        && x < (xs[j] - xs[i]) * (y - ys[i]) / (ys[j] - ys[i]) + xs[i]) in = !in;
            }
            return in;
        }

        public double minX() { return min(xs); }
        public double minY() { return min(ys); }
        public double maxX() { return max(xs); }
        public double maxY() { return max(ys); }

        private static double min(double[] v) { double m = v[0]; for (double d : v) m = Math.min(m, d); return m; }
        private static double max(double[] v) { double m = v[0]; for (double d : v) m = Math.max(m, d); return m; }

        /** A regular n-gon of circumradius r, one vertex at angle {@code rot} (radians, y down). */
        static Polygon regular(int n, double cx, double cy, double r, double rot) {
            double[] xs = new double[n], ys = new double[n];
            for (int i = 0; i < n; i++) {
                double a = rot + 2 * Math.PI * i / n;
                xs[i] = cx + r * StrictMath.cos(a);
                ys[i] = cy + r * StrictMath.sin(a);
            }
            return new Polygon(xs, ys);
        }

        /** A w x h rectangle centred on (cx, cy), turned by {@code angle} radians counter-clockwise on screen. */
        static Polygon rect(double cx, double cy, double w, double h, double angle) {
            double c = StrictMath.cos(angle), s = StrictMath.sin(angle);
            double[] ux = {-w / 2, w / 2, w / 2, -w / 2}, uy = {-h / 2, -h / 2, h / 2, h / 2};
            double[] xs = new double[4], ys = new double[4];
            for (int i = 0; i < 4; i++) {
                xs[i] = cx + ux[i] * c + uy[i] * s;   // screen y points down: rotate by -angle in y-down coordinates
                ys[i] = cy - ux[i] * s + uy[i] * c;
            }
            return new Polygon(xs, ys);
        }
    }

    void fill(Region r, int rgb) {
        int x0 = Math.max(0, (int) Math.floor(r.minX() - 0.5)), x1 = Math.min(size - 1, (int) Math.ceil(r.maxX()));
        int y0 = Math.max(0, (int) Math.floor(r.minY() - 0.5)), y1 = Math.min(size - 1, (int) Math.ceil(r.maxY()));
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++)
                if (r.contains(x + 0.5, y + 0.5)) px[y * size + x] = rgb;
    }

    int get(int x, int y) { return px[y * size + x]; }

    void set(int x, int y, int rgb) { px[y * size + x] = rgb; }

    BufferedImage toImage() {
        BufferedImage img = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
        int[] dst = ((DataBufferInt) img.getRaster().getDataBuffer()).getData();
        System.arraycopy(px, 0, dst, 0, px.length);
        return img;
    }

    static int rgb(int r, int g, int b) { return (clamp(r) << 16) | (clamp(g) << 8) | clamp(b); }

    static int clamp(int v) { return v < 0 ? 0 : Math.min(255, v); }

    /** HSV (hue in degrees, s and v in [0, 1]) to packed RGB. */
    static int hsv(double h, double s, double v) {
        h = ((h % 360) + 360) % 360;
        double c = v * s, hp = h / 60, x = c * (1 - Math.abs(hp % 2 - 1)), m = v - c;
        double r, g, b;
        switch ((int) hp) {
            case 0 -> { r = c; g = x; b = 0; }
            case 1 -> { r = x; g = c; b = 0; }
            case 2 -> { r = 0; g = c; b = x; }
            case 3 -> { r = 0; g = x; b = c; }
            case 4 -> { r = x; g = 0; b = c; }
            default -> { r = c; g = 0; b = x; }
        }
        return rgb((int) Math.round((r + m) * 255), (int) Math.round((g + m) * 255), (int) Math.round((b + m) * 255));
    }
}
