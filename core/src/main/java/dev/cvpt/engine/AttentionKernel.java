package dev.cvpt.engine;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Scaled dot-product attention of one sample's heads (head size 64), forward and input-gradient
 * backward, on 512-bit vectors (the incubating Vector API; see {@link Attention} for when it runs).
 *
 * <p>A sample's packed qkv [n, 3·C] is copied into this thread's {@link Scratch} once (one bulk copy),
 * and every head's products run on register-blocked micro-kernels over plain arrays, reading the
 * head's 64 columns in place (row stride 3·C): 4 rows × 64 columns of the output in 16 vector
 * accumulators. K (and V in the backward) is transposed per head. As in flash attention the forward
 * keeps only each row's log-sum-exp L (P would be B·heads·N² floats, 190 MB per worker in a ViT-B
 * step), and the backward recomputes P from it:
 * <pre>
 *   forward   S = QKᵀ, P = softmax(scale·S), O = PV, L = log Σ_j exp(scale·S_ij)
 *   backward  P = exp(scale·QKᵀ − L), dP = dO Vᵀ, dS = scale·P∘(dP − rowsum(P∘dP)),
 *             dV = Pᵀ dO, dQ = dS K, dK = dSᵀ Q
 * </pre>
 * Rows are padded to a multiple of 4 and columns to a multiple of 16; padded entries are computed
 * and never read back (sums run over the n real rows and columns; the softmax masks its tail).
 */
final class AttentionKernel {
    static final int D = 64;
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    private AttentionKernel() {}

    /** Whether the preferred vector shape is the 512-bit one these kernels are blocked for. */
    static boolean fits() {
        return F.length() == 16;
    }

    /** One thread's arrays for n tokens of width c (= heads·64). */
    static final class Scratch {
        final int n, c, nr, nc;
        final float[] x;      // the sample's qkv [nr][3c]
        final float[] o;      // its output [nr][c] (forward) or the output's gradient (backward)
        final float[] dx;     // qkv's gradient [nr][3c] (backward only; allocated on first use)
        final float[] t;      // K or V of one head transposed [64][nc]
        final float[] s;      // P of one head [nc][nc]
        final float[] ds;     // dP, then dS [nc][nc]
        final float[] lse;    // one head's row log-sum-exps [n]
        final VectorMask<Float> tail;   // lanes of the last 16-column group that are real columns

        Scratch(int n, int c, boolean backward) {
            this.n = n;
            this.c = c;
            this.nr = (n + 3) & ~3;
            this.nc = (n + 15) & ~15;
            x = new float[nr * 3 * c];
            o = new float[nr * c];
            dx = backward ? new float[nr * 3 * c] : null;
            t = new float[D * nc];
            s = new float[nc * nc];
            ds = backward ? new float[nc * nc] : null;
            lse = new float[n];
            tail = VectorMask.fromLong(F, (1L << (n - (nc - 16))) - 1);
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = new ThreadLocal<>();

    static Scratch scratch(int n, int c, boolean backward) {
        Scratch w = SCRATCH.get();
        if (w == null || w.n != n || w.c != c || (backward && w.dx == null)) SCRATCH.set(w = new Scratch(n, c, backward));
        return w;
    }

    /** dst [64][nc] = the n rows of 64 at src[off + i·stride] transposed. */
    private static void transpose(float[] src, int off, int stride, int n, int nc, float[] dst) {
        for (int i = 0; i < n; i++) {
            int r = off + i * stride;
            for (int d = 0; d < D; d++) dst[d * nc + i] = src[r + d];
        }
    }

    /** Head h of the sample in w.x: P·V into w.o's columns of h, the rows' log-sum-exps into w.lse. */
    static void forward(Scratch w, int h, float scale) {
        int c3 = 3 * w.c, q = h * D;
        transpose(w.x, w.c + q, c3, w.n, w.nc, w.t);
        nt(w.x, q, c3, w.t, w.s, w.nr, w.nc);
        softmax(w, scale);
        pn(w.s, w.nc, 1, w.n, w.x, 2 * w.c + q, c3, w.o, q, w.c, w.nr);
    }

    /**
     * Head h: from the sample's qkv in w.x, the forward's log-sum-exps in w.lse and the output's
     * gradient in w.o, the head's dQ, dK, dV into w.dx.
     */
    static void backward(Scratch w, int h, float scale) {
        int n = w.n, nc = w.nc, c = w.c, c3 = 3 * c, q = h * D;
        FloatVector sc = FloatVector.broadcast(F, scale);
        VectorMask<Float> pad = w.tail.not();
        int full = nc - 16;
        transpose(w.x, c + q, c3, n, nc, w.t);
        nt(w.x, q, c3, w.t, w.s, w.nr, nc);            // P = exp(scale·QKᵀ − L)
        for (int i = 0; i < n; i++) {
            int r = i * nc;
            FloatVector nl = FloatVector.broadcast(F, -w.lse[i]);
            for (int j = 0; j < full; j += 16)
                FloatVector.fromArray(F, w.s, r + j).fma(sc, nl).lanewise(VectorOperators.EXP).intoArray(w.s, r + j);
            FloatVector.fromArray(F, w.s, r + full).fma(sc, nl).lanewise(VectorOperators.EXP).blend(0f, pad).intoArray(w.s, r + full);
        }
        transpose(w.x, 2 * c + q, c3, n, nc, w.t);
        nt(w.o, q, c, w.t, w.ds, w.nr, nc);            // dP = dO Vᵀ
        for (int i = 0; i < n; i++) {                  // dS = scale · P ∘ (dP − Σ_j P∘dP)
            int r = i * nc;
            FloatVector acc = FloatVector.zero(F);
            for (int j = 0; j < full; j += 16)
                acc = FloatVector.fromArray(F, w.s, r + j).fma(FloatVector.fromArray(F, w.ds, r + j), acc);
            FloatVector pt = FloatVector.fromArray(F, w.s, r + full).blend(0f, pad);
            FloatVector dt = FloatVector.fromArray(F, w.ds, r + full).blend(0f, pad);
            acc = pt.fma(dt, acc);
            FloatVector di = FloatVector.broadcast(F, acc.reduceLanes(VectorOperators.ADD));
            for (int j = 0; j < full; j += 16)
                FloatVector.fromArray(F, w.s, r + j).mul(FloatVector.fromArray(F, w.ds, r + j).sub(di)).mul(sc).intoArray(w.ds, r + j);
            pt.mul(dt.sub(di)).mul(sc).intoArray(w.ds, r + full);
        }
        pn(w.s, 1, nc, n, w.o, q, c, w.dx, 2 * c + q, c3, w.nr);        // dV = Pᵀ dO
        pn(w.ds, nc, 1, n, w.x, c + q, c3, w.dx, q, c3, w.nr);          // dQ = dS K
        pn(w.ds, 1, nc, n, w.x, q, c3, w.dx, c + q, c3, w.nr);          // dK = dSᵀ Q
    }

    /** Rows 0..n-1 of w.s: softmax(scale·S) over columns 0..n-1; the padded columns become 0. */
    private static void softmax(Scratch w, float scale) {
        int n = w.n, nc = w.nc, full = nc - 16;
        float[] s = w.s;
        VectorMask<Float> pad = w.tail.not();
        FloatVector sc = FloatVector.broadcast(F, scale);
        for (int i = 0; i < n; i++) {
            int r = i * nc;
            FloatVector last = FloatVector.fromArray(F, s, r + full).blend(Float.NEGATIVE_INFINITY, pad);
            FloatVector mx = last;
            for (int j = 0; j < full; j += 16) mx = mx.max(FloatVector.fromArray(F, s, r + j));
            FloatVector m = FloatVector.broadcast(F, mx.reduceLanes(VectorOperators.MAX));
            FloatVector sum = FloatVector.zero(F);
            for (int j = 0; j < full; j += 16) {
                FloatVector e = FloatVector.fromArray(F, s, r + j).sub(m).mul(sc).lanewise(VectorOperators.EXP);
                sum = sum.add(e);
                e.intoArray(s, r + j);
            }
            FloatVector e = last.sub(m).mul(sc).lanewise(VectorOperators.EXP);   // exp(−inf) = 0 in the padding
            sum = sum.add(e);
            e.intoArray(s, r + full);
            float z = sum.reduceLanes(VectorOperators.ADD);
            w.lse[i] = m.lane(0) * scale + (float) Math.log(z);
            FloatVector inv = FloatVector.broadcast(F, 1f / z);
            for (int j = 0; j < nc; j += 16) FloatVector.fromArray(F, s, r + j).mul(inv).intoArray(s, r + j);
        }
    }

    /** c [nr][nc] = a · bt [64][nc], row i of a the 64 floats at a[off + i·stride]. */
    static void nt(float[] a, int off, int stride, float[] bt, float[] c, int nr, int nc) {
        for (int i0 = 0; i0 < nr; i0 += 4) {
            int ao = off + i0 * stride;
            int j0 = 0;
            for (; j0 + 64 <= nc; j0 += 64) nt4x4(a, ao, stride, bt, nc, j0, c, i0 * nc);
            for (; j0 < nc; j0 += 16) nt4x1(a, ao, stride, bt, nc, j0, c, i0 * nc);
        }
    }

    private static void nt4x4(float[] a, int ao, int as, float[] bt, int nc, int j0, float[] c, int co) {
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00,
                c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        for (int d = 0; d < D; d++) {
            int bo = d * nc + j0;
            FloatVector b0 = FloatVector.fromArray(F, bt, bo), b1 = FloatVector.fromArray(F, bt, bo + 16),
                    b2 = FloatVector.fromArray(F, bt, bo + 32), b3 = FloatVector.fromArray(F, bt, bo + 48);
            FloatVector x = FloatVector.broadcast(F, a[ao + d]);
            c00 = b0.fma(x, c00); c01 = b1.fma(x, c01); c02 = b2.fma(x, c02); c03 = b3.fma(x, c03);
            x = FloatVector.broadcast(F, a[ao + as + d]);
            c10 = b0.fma(x, c10); c11 = b1.fma(x, c11); c12 = b2.fma(x, c12); c13 = b3.fma(x, c13);
            x = FloatVector.broadcast(F, a[ao + 2 * as + d]);
            c20 = b0.fma(x, c20); c21 = b1.fma(x, c21); c22 = b2.fma(x, c22); c23 = b3.fma(x, c23);
            x = FloatVector.broadcast(F, a[ao + 3 * as + d]);
            c30 = b0.fma(x, c30); c31 = b1.fma(x, c31); c32 = b2.fma(x, c32); c33 = b3.fma(x, c33);
        }
        int o = co + j0;
        store(c, o, c00, c01, c02, c03);
        store(c, o + nc, c10, c11, c12, c13);
        store(c, o + 2 * nc, c20, c21, c22, c23);
        store(c, o + 3 * nc, c30, c31, c32, c33);
    }

    /** 64 floats at c[o]; small enough for the JIT to inline (a vector passed to a call it did not inline would be boxed). */
    private static void store(float[] c, int o, FloatVector v0, FloatVector v1, FloatVector v2, FloatVector v3) {
        v0.intoArray(c, o);
        v1.intoArray(c, o + 16);
        v2.intoArray(c, o + 32);
        v3.intoArray(c, o + 48);
    }

    private static void nt4x1(float[] a, int ao, int as, float[] bt, int nc, int j0, float[] c, int co) {
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0;
        for (int d = 0; d < D; d++) {
            FloatVector b = FloatVector.fromArray(F, bt, d * nc + j0);
            c0 = b.fma(FloatVector.broadcast(F, a[ao + d]), c0);
            c1 = b.fma(FloatVector.broadcast(F, a[ao + as + d]), c1);
            c2 = b.fma(FloatVector.broadcast(F, a[ao + 2 * as + d]), c2);
            c3 = b.fma(FloatVector.broadcast(F, a[ao + 3 * as + d]), c3);
        }
        int o = co + j0;
        c0.intoArray(c, o);
        c1.intoArray(c, o + nc);
        c2.intoArray(c, o + 2 * nc);
        c3.intoArray(c, o + 3 * nc);
    }

    /**
     * Rows r &lt; nr of 64 at c[co + r·cs] = Σ_{l &lt; len} p[r·rs + l·ls] · x_l, x_l the 64 floats at
     * x[xo + l·xs]: with (rs, ls) = (nc, 1) the product P·X, with (1, nc) the product Pᵀ·X, P stored [rows][nc].
     */
    static void pn(float[] p, int rs, int ls, int len, float[] x, int xo0, int xs, float[] c, int co, int cs, int nr) {
        for (int r0 = 0; r0 < nr; r0 += 4) {
            int p0 = r0 * rs, p1 = p0 + rs, p2 = p1 + rs, p3 = p2 + rs;
            FloatVector c00 = FloatVector.zero(F), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00,
                    c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00;
            for (int l = 0; l < len; l++) {
                int xo = xo0 + l * xs, po = l * ls;
                FloatVector x0 = FloatVector.fromArray(F, x, xo), x1 = FloatVector.fromArray(F, x, xo + 16),
                        x2 = FloatVector.fromArray(F, x, xo + 32), x3 = FloatVector.fromArray(F, x, xo + 48);
                FloatVector b = FloatVector.broadcast(F, p[p0 + po]);
                c00 = x0.fma(b, c00); c01 = x1.fma(b, c01); c02 = x2.fma(b, c02); c03 = x3.fma(b, c03);
                b = FloatVector.broadcast(F, p[p1 + po]);
                c10 = x0.fma(b, c10); c11 = x1.fma(b, c11); c12 = x2.fma(b, c12); c13 = x3.fma(b, c13);
                b = FloatVector.broadcast(F, p[p2 + po]);
                c20 = x0.fma(b, c20); c21 = x1.fma(b, c21); c22 = x2.fma(b, c22); c23 = x3.fma(b, c23);
                b = FloatVector.broadcast(F, p[p3 + po]);
                c30 = x0.fma(b, c30); c31 = x1.fma(b, c31); c32 = x2.fma(b, c32); c33 = x3.fma(b, c33);
            }
            int o = co + r0 * cs;
            store(c, o, c00, c01, c02, c03);
            store(c, o + cs, c10, c11, c12, c13);
            store(c, o + 2 * cs, c20, c21, c22, c23);
            store(c, o + 3 * cs, c30, c31, c32, c33);
        }
    }
}
