package dev.cvpt.engine;

import dev.cvpt.UserException;
import org.bytedeco.pytorch.Tensor;

import java.nio.FloatBuffer;
import java.util.Locale;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.IntStream;

import static org.bytedeco.pytorch.global.torch.ScalarType;
import static org.bytedeco.pytorch.global.torch.empty;
import static org.bytedeco.pytorch.global.torch.get_num_threads;

/**
 * The backbone's self-attention, softmax(QKᵀ/√d)·V per head, on a kernel of our own
 * ({@link AttentionKernel}: the JDK's incubating Vector API, 512-bit FMA micro-kernels) instead of
 * libtorch's fused CPU kernel, whose matrix products run on the bundled OpenBLAS: on the machines of
 * this project OPENBLAS_CORETYPE pins those to the AVX2 "Haswell" kernels, and the fused attention
 * was about a tenth of a ViT-B training step (docs/PERFORMANCE.md, item 12).
 *
 * <p>Input: timm's packed qkv [B, N, 3·C] (q, k, v side by side, heads of 64 inside each); output
 * [B, N, C], the heads' outputs side by side, the layout the output projection reads: no permute
 * copies either way. Under autograd (inside {@link Linear#gradHooks()}) the output is tied to qkv
 * ({@link Linear#tie}) and the backward, also ours, returns qkv's whole gradient in one buffer;
 * the forward keeps only the rows' log-sum-exps for it (B·heads·N floats; qkv is kept anyway).
 *
 * <p>Where it applies: fp32 on the CPU, head size 64, the JVM started with
 * {@code --add-modules jdk.incubator.vector} (the {@code cvpt} launcher and the test runner do) and
 * 512-bit vectors (AVX-512). Elsewhere, or with {@code CVPT_ATTENTION=torch} (system property
 * {@code cvpt.attention}; {@code auto}, the default, runs it where it applies), {@link #selfAttention}
 * returns null and the caller runs libtorch's kernel.
 * Results agree with it to float rounding (the products sum in another order).
 */
public final class Attention {
    private static volatile Boolean enabled;
    /** Calls that ran on the kernel (tests check that it did). */
    static final LongAdder CALLS = new LongAdder();

    private Attention() {}

    /** Whether the kernel runs in this process (module present, 512-bit vectors, not turned off). */
    public static boolean enabled() {
        Boolean e = enabled;
        if (e == null) enabled = e = resolve();
        return e;
    }

    /** Tests switch the kernel off and on (null: resolve again from the environment). */
    static void force(Boolean on) {
        enabled = on;
    }

    private static boolean resolve() {
        String v = System.getProperty("cvpt.attention", System.getenv("CVPT_ATTENTION"));
        switch (v == null ? "auto" : v.trim().toLowerCase(Locale.ROOT)) {
            case "auto", "" -> { }
            case "torch" -> { return false; }
            default -> throw new UserException("cvpt.attention / CVPT_ATTENTION: expected auto or torch, got '" + v + "'");
        }
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) return false;
        try {
            return AttentionKernel.fits();
        } catch (LinkageError e) {
            return false;
        }
    }

    /** "vector-api" or "torch": which kernel the self-attention runs on. */
    public static String backendName() {
        return enabled() ? "vector-api" : "torch";
    }

    /**
     * softmax(q kᵀ/√64) v per sample and head of qkv [B, N, 3·C] → [B, N, C]; null where this kernel
     * does not apply (the caller falls back to libtorch's).
     */
    public static Tensor selfAttention(Tensor qkv, int heads) {
        if (!enabled() || qkv.dim() != 3 || !Tensors.is(qkv, ScalarType.Float) || !qkv.device().is_cpu()) return null;
        long b = qkv.size(0), n = qkv.size(1), c = qkv.size(2) / 3;
        if (qkv.size(2) != 3 * c || c != (long) heads * AttentionKernel.D || n < 4) return null;
        if (qkv.numel() > Integer.MAX_VALUE / 2) return null;
        boolean grad = Tensors.needsGrad(qkv);
        Linear.GradHooks hooks = grad ? Linear.currentHooks() : null;
        if (grad && hooks == null) return null;

        CALLS.increment();
        Tensor x = qkv.detach().contiguous();
        Tensor out = empty(b, n, c);
        Shape s = new Shape((int) b, (int) n, heads);
        Tensor lse = grad ? empty((long) b * heads * n) : null;   // the rows' log-sum-exps
        FloatBuffer xb = (FloatBuffer) x.createBuffer(), ob = (FloatBuffer) out.createBuffer();
        FloatBuffer lb = lse == null ? null : (FloatBuffer) lse.createBuffer();
        eachSample(s, bi -> {
            AttentionKernel.Scratch w = AttentionKernel.scratch(s.n, s.c, false);
            xb.get(bi * s.n * 3 * s.c, w.x, 0, s.n * 3 * s.c);
            for (int h = 0; h < s.heads; h++) {
                AttentionKernel.forward(w, h, s.scale);
                if (lb != null) lb.put((bi * s.heads + h) * s.n, w.lse, 0, s.n);
            }
            ob.put(bi * s.n * s.c, w.o, 0, s.n * s.c);
        });
        if (grad) Linear.tie(hooks, out, qkv, new Backward(x, lse, s));
        return out;
    }

    /** Sizes of one call. */
    private record Shape(int b, int n, int heads, int c, float scale) {
        Shape(int b, int n, int heads) {
            this(b, n, heads, heads * AttentionKernel.D, (float) (1 / Math.sqrt(AttentionKernel.D)));
        }
    }

    /** Runs f for every sample: on this thread, or in parallel where libtorch's thread count is above 1. */
    private static void eachSample(Shape s, java.util.function.IntConsumer f) {
        if (get_num_threads() > 1 && s.b > 1) IntStream.range(0, s.b).parallel().forEach(f);
        else for (int bi = 0; bi < s.b; bi++) f.accept(bi);
    }

    /** qkv's gradient [B, N, 3·C] from the output's, with the forward's qkv and log-sum-exps. */
    private static final class Backward extends Linear.TiedHook {
        private final Tensor x, lse;
        private final Shape s;

        Backward(Tensor x, Tensor lse, Shape s) {
            this.x = new Tensor(x);   // own handles: the caller's belong to a block's scope
            this.lse = new Tensor(lse);
            this.s = s;
        }

        @Override
        Tensor inputGrad(Tensor g) {
            Tensor go = g.contiguous();
            Tensor dx = empty(s.b, s.n, 3L * s.c);
            FloatBuffer xb = (FloatBuffer) x.createBuffer(), lb = (FloatBuffer) lse.createBuffer();
            FloatBuffer gb = (FloatBuffer) go.createBuffer(), db = (FloatBuffer) dx.createBuffer();
            int rows3 = s.n * 3 * s.c;
            eachSample(s, bi -> {
                AttentionKernel.Scratch w = AttentionKernel.scratch(s.n, s.c, true);
                xb.get(bi * rows3, w.x, 0, rows3);
                gb.get(bi * s.n * s.c, w.o, 0, s.n * s.c);
                for (int h = 0; h < s.heads; h++) {
                    lb.get((bi * s.heads + h) * s.n, w.lse, 0, s.n);
                    AttentionKernel.backward(w, h, s.scale);
                }
                db.put(bi * rows3, w.dx, 0, rows3);
            });
            return dx;
        }

        @Override
        void retainResources() {
            x.retainReference();
            lse.retainReference();
        }

        @Override
        void releaseResources() {
            x.releaseReference();
            lse.releaseReference();
        }
    }
}
