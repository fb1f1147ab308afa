package dev.cvpt.synth;

import java.util.ArrayList;
import java.util.List;

/**
 * The 32 classes of the {@code pretrain} task: 5 x 5 left-right symmetric block glyphs ("identicons").
 * They are drawn once from a fixed seed (they define the classes, so they must not depend on the
 * user's seed) under constraints that make them recognisable at 32 px: the glyph touches all four
 * sides of its 5 x 5 box (so the box is recoverable from the pixels), has 9..17 cells, is
 * 4-connected, and differs from every other glyph in at least {@link #MIN_DISTANCE} cells.
 */
final class Glyphs {
    static final int COUNT = 32, GRID = 5, MIN_DISTANCE = 6;
    private static final boolean[][] GLYPHS = generate();

    private Glyphs() {}

    /** Cell (x, y) of glyph {@code c}, row-major; do not modify. */
    static boolean[] bitmap(int c) { return GLYPHS[c]; }

    static int distance(boolean[] a, boolean[] b) {
        int d = 0;
        for (int i = 0; i < a.length; i++) if (a[i] != b[i]) d++;
        return d;
    }

    private static boolean[][] generate() {
        Rng r = new Rng(0x61797068L, "glyphs", "classes", 0);
        List<boolean[]> out = new ArrayList<>();
        while (out.size() < COUNT) {
            boolean[] g = new boolean[GRID * GRID];
            for (int y = 0; y < GRID; y++)
                for (int x = 0; x <= GRID / 2; x++) {
                    boolean on = r.chance(0.5);
                    g[y * GRID + x] = on;
                    g[y * GRID + GRID - 1 - x] = on;
                }
            if (!acceptable(g)) continue;
            boolean far = true;
            for (boolean[] o : out) far &= distance(g, o) >= MIN_DISTANCE;
            if (far) out.add(g);
        }
        return out.toArray(new boolean[0][]);
    }

    private static boolean acceptable(boolean[] g) {
        int n = 0;
        boolean top = false, bottom = false, left = false;
        for (int i = 0; i < g.length; i++) {
            if (!g[i]) continue;
            n++;
            top |= i / GRID == 0;
            bottom |= i / GRID == GRID - 1;
            left |= i % GRID == 0;           // symmetric: the right column then too
        }
        return top && bottom && left && n >= 9 && n <= 17 && connected(g, n);
    }

    private static boolean connected(boolean[] g, int n) {
        int start = 0;
        while (!g[start]) start++;
        boolean[] seen = new boolean[g.length];
        int[] stack = new int[g.length];
        int sp = 0, reached = 0;
        stack[sp++] = start;
        seen[start] = true;
        while (sp > 0) {
            int i = stack[--sp], x = i % GRID, y = i / GRID;
            reached++;
            int[] nb = {x > 0 ? i - 1 : -1, x < GRID - 1 ? i + 1 : -1, y > 0 ? i - GRID : -1, y < GRID - 1 ? i + GRID : -1};
            for (int j : nb)
                if (j >= 0 && g[j] && !seen[j]) {
                    seen[j] = true;
                    stack[sp++] = j;
                }
        }
        return reached == n;
    }
}
