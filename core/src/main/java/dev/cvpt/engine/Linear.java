package dev.cvpt.engine;

import dev.cvpt.UserException;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Dispatcher;
import org.bytedeco.pytorch.GenericList;
import org.bytedeco.pytorch.IValue;
import org.bytedeco.pytorch.IValueVector;
import org.bytedeco.pytorch.NoneType;
import org.bytedeco.pytorch.OperatorHandle;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorBase;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorTensorHook;
import org.bytedeco.pytorch.Type;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;

import static org.bytedeco.pytorch.global.torch.ScalarType;
import static org.bytedeco.pytorch.global.torch.get_cpu_capability;
import static org.bytedeco.pytorch.global.torch.hasMKLDNN;
import static org.bytedeco.pytorch.global.torch.mkldnn_linear;

/**
 * {@code y = x·Wᵀ + b} for the model's linear layers, on oneDNN where that is faster.
 *
 * <p>libtorch runs {@code linear} on its bundled OpenBLAS, whose kernels are whatever OpenBLAS
 * picks for the CPU (or OPENBLAS_CORETYPE forces; the machines of this project pin "Haswell",
 * AVX2). oneDNN, also inside libtorch, JIT-compiles for the CPU it runs on: on an AVX-512 machine
 * (AMD Zen 5, one core, ViT-B shapes) it reaches 160–240 GFLOP/s where OpenBLAS's AVX2 kernels
 * give 105–120 (docs/PERFORMANCE.md). So a linear with a frozen weight (the backbone's qkv, proj,
 * fc1, fc2) goes to oneDNN, by one of three routes:
 * <ul>
 *   <li>no gradient wanted for x (eval, or x does not depend on a trainable): oneDNN's inner product
 *       directly, dense x, W and y read and written in place ({@link #dense}: {@code mkldnn::_linear_pointwise});</li>
 *   <li>x needs its gradient, inside {@link #gradHooks()} (a training step): the forward runs on
 *       oneDNN outside autograd, and the output is tied to x by a zero-valued scalar
 *       {@code s − s.detach()}, {@code s = sum(x)}: a hook on the output keeps its gradient g, and a
 *       hook on x's side of the tie returns g·W, also computed on oneDNN. Autograd saves nothing for it (torch's own linear keeps W only;
 *       {@code mkldnn_linear}'s own autograd would keep a copy of x, and its backward was no faster:
 *       measured); the value is exactly the oneDNN output (adding 0);</li>
 *   <li>otherwise (a trainable weight: the head, full fine-tuning, which need the weight gradient;
 *       fewer than {@link #MIN_ROWS} rows or a side under {@link #MIN_WIDTH}; oneDNN off): {@code torch::linear}.</li>
 * </ul>
 *
 * <p>Results differ from OpenBLAS's by rounding only (relative 1e-5). The backend: {@link Backend#AUTO}
 * (default) picks oneDNN where ATen runs its AVX-512 kernels and libtorch has oneDNN, else BLAS; the
 * system property {@code cvpt.gemm} or the environment variable {@code CVPT_GEMM}
 * ({@code onednn}, {@code blas}, {@code auto}) overrides.
 */
public final class Linear {
    public enum Backend { AUTO, ONEDNN, BLAS }

    /** Below this many rows oneDNN's per-call set-up outweighs its faster kernel. */
    static final long MIN_ROWS = 64;
    /** Narrower weights (the 64-wide demo backbone) stay on OpenBLAS: their GEMMs are too small to gain. */
    static final long MIN_WIDTH = 128;
    static volatile long minRows = MIN_ROWS, minWidth = MIN_WIDTH;   // tests lower them to run the oneDNN routes on tiny models

    private static volatile Boolean oneDnn;   // resolved on first use
    private static final ThreadLocal<GradHooks> HOOKS = new ThreadLocal<>();

    private Linear() {}

    /** {@code x [.., K] · w[N, K]ᵀ + b [N]} (b may be null). */
    public static Tensor linear(Tensor x, Tensor w, Tensor b) {
        return linear(x, w, b, null);
    }

    /**
     * As {@link #linear(Tensor, Tensor, Tensor)}; {@code transposed} supplies w's transpose as a
     * contiguous [K, N] tensor (a copy the caller keeps for a frozen weight), for the input gradient
     * g·W on oneDNN: its backward-data kernel runs no faster than OpenBLAS here, its forward kernel
     * on Wᵀ 1.4–1.9× faster (measured). Null: made when needed.
     */
    public static Tensor linear(Tensor x, Tensor w, Tensor b, Supplier<Tensor> transposed) {
        if (Precision.isBf16(w)) return bf16(x, w, b, false);
        if (!oneDnnFits(x, w, b)) return torchLinear(x, w, b);
        if (!Tensors.needsGrad(x)) return oneDnnForward(x, w, b);
        GradHooks hooks = HOOKS.get();
        return hooks == null ? torchLinear(x, w, b) : hooked(hooks, x, w, b, transposed);
    }

    /**
     * A frozen bf16 weight ({@link Precision#BF16}): x rounded to bf16, the product in bf16 with fp32
     * accumulation (ATen's bf16 GEMM, oneDNN on CPUs with AVX-512), the output back in fp32. Under
     * autograd the input gradient g·W runs the same way (torch's linear backward on the bf16 tensors,
     * then the cast's); autograd keeps x in bf16, half the bytes of an fp32 copy. {@code lowOut}: the
     * output stays bf16 (for a caller whose next op reads it as such); an x already in bf16 is used as it is.
     */
    public static Tensor bf16(Tensor x, Tensor w, Tensor b, boolean lowOut) {
        Tensor xl = Tensors.is(x, ScalarType.BFloat16) ? x : x.to(ScalarType.BFloat16);
        // no gradient wanted: oneDNN's inner product dense in and out (375–385 against 345 GFLOP/s, fc1 shape, one core)
        Tensor y = !Tensors.needsGrad(x) && oneDnnFits(x, w, b)
                ? dense(rows2d(xl), w, b, false).view(withLast(x, w.size(0))) : torchLinear(xl, w, b);
        return lowOut ? y : y.to(ScalarType.Float);
    }

    /** {@code matmul(x, m)} the same way as {@link #bf16}: both sides rounded to bf16, fp32 accumulation, the result in fp32. */
    public static Tensor bf16Matmul(Tensor x, Tensor m) {
        return org.bytedeco.pytorch.global.torch.matmul(x.to(ScalarType.BFloat16), m.to(ScalarType.BFloat16)).to(ScalarType.Float);
    }

    private static Tensor torchLinear(Tensor x, Tensor w, Tensor b) {
        return b == null ? org.bytedeco.pytorch.global.torch.linear(x, w)
                : org.bytedeco.pytorch.global.torch.linear(x, w, new TensorOptional(b));
    }

    private static boolean oneDnnFits(Tensor x, Tensor w, Tensor b) {
        if (!oneDnnEnabled()) return false;
        if (w.requires_grad() || (b != null && b.requires_grad())) return false;   // weight gradient wanted
        if (x.dim() < 2 || !w.is_contiguous() || (b != null && !b.is_contiguous())) return false;
        return w.size(0) >= minWidth && w.size(1) >= minWidth && x.numel() / x.size(-1) >= minRows;
    }

    private static Tensor oneDnnForward(Tensor x, Tensor w, Tensor b) {
        return oneDnnRows(x, w, b).view(withLast(x, w.size(0)));
    }

    /** The product as [rows, N], a tensor of its own (not a view). */
    private static Tensor oneDnnRows(Tensor x, Tensor w, Tensor b) {
        return dense(rows2d(x), w, b, false);
    }

    /**
     * {@code x2 [rows, K] · wᵀ + b} on oneDNN, dense in and dense out ([rows, N], a tensor of its own;
     * b may be null; {@code gelu}: GELU (erf form) fused as the product's post-op). Through
     * {@code mkldnn::_linear_pointwise} (the op PyTorch's inductor calls; registered in libtorch,
     * reached through the dispatcher, which the presets expose as a boxed call): oneDNN reads x and
     * writes y in place, where {@code mkldnn_linear} wants its input converted {@code to_mkldnn} and
     * its output copied back {@code to_dense} (fc1 shape, one core: 178–189 GFLOP/s against 130–170).
     * Where the op is missing, the converting route.
     */
    static Tensor dense(Tensor x2, Tensor w, Tensor b, boolean gelu) {
        OperatorHandle op = Pointwise.OP;
        if (op == null) {
            Tensor y = mkldnnLinear(x2.to_mkldnn(), w, b);
            return (gelu ? org.bytedeco.pytorch.global.torch.gelu(y) : y).to_dense();
        }
        IValueVector stack = new IValueVector();
        stack.push_back(new IValue(x2));
        stack.push_back(new IValue(w));
        stack.push_back(b == null ? new IValue() : new IValue(b));
        stack.push_back(new IValue(gelu ? "gelu" : "none"));
        // Scalar?[] scalars, empty: a list typed None, owned by the stack alone (the op's unboxing accepts
        // a subtype element type only for a list nobody else holds)
        GenericList empty = new GenericList(Pointwise.NONE);
        IValue list = new IValue(empty);
        empty.deallocate();
        stack.push_back(list);
        list.deallocate();
        stack.push_back(gelu ? new IValue("none") : new IValue());   // GELU's algorithm: "none" is the erf form
        op.callBoxed(stack);
        // a handle of its own: toTensor() is a reference into the stack, which its scope or the GC may free first
        return new Tensor(stack.get(0).toTensor());
    }

    /** {@code mkldnn::_linear_pointwise}, looked up once (null: this libtorch lacks it). */
    private static final class Pointwise {
        static final Type.TypePtr NONE;
        static final OperatorHandle OP;

        static {
            Native.load();
            Type.TypePtr none = null;
            OperatorHandle op = null;
            try (PointerScope scope = new PointerScope()) {
                op = Dispatcher.singleton().findSchemaOrThrow("mkldnn::_linear_pointwise", "");
                none = new Type.TypePtr(NoneType.get().get());
                op.retainReference();     // outlive this scope: process-wide
                none.retainReference();
            } catch (RuntimeException e) {
                op = null;
            }
            OP = op;
            NONE = none;
        }
    }

    /** {@code mkldnn_linear} of an oneDNN-layout x [rows, K]; the result stays in oneDNN's layout. b may be null. */
    private static Tensor mkldnnLinear(Tensor x, Tensor w, Tensor b) {
        return b == null ? mkldnn_linear(x, w) : mkldnn_linear(x, w, new TensorOptional(b));
    }

    /**
     * {@code fc2(gelu(fc1 x))} with both products on oneDNN, dense in and out, GELU fused into fc1
     * (oneDNN's erf form: the same values up to rounding): for inference only (no gradient wanted for
     * x). With bf16 weights ({@link Precision#BF16}) x is rounded to bf16, the hidden activation stays
     * bf16 (GELU applied to the fp32 accumulators, then rounded) and the output comes back in fp32.
     * Null where this route does not apply (oneDNN off or too small, a trainable weight, x needing its
     * gradient, mixed precisions): the caller runs the layers one by one.
     */
    public static Tensor mlpNoGrad(Tensor x, Tensor w1, Tensor b1, Tensor w2, Tensor b2) {
        if (Tensors.needsGrad(x)) return null;
        boolean low = Precision.isBf16(w1);
        if (low != Precision.isBf16(w2) || !oneDnnFits(x, w1, b1) || !oneDnnFits(x, w2, b2)) return null;
        Tensor y = dense(dense(rows2d(low ? x.to(ScalarType.BFloat16) : x), w1, b1, true), w2, b2, false);
        return (low ? y.to(ScalarType.Float) : y).view(withLast(x, w2.size(0)));
    }

    /** g [.., N] · W [N, K] = g · (Wᵀ [K, N])ᵀ on oneDNN: the input gradient of a linear. */
    private static Tensor oneDnnInputGrad(Tensor g, Tensor wT) {
        return dense(rows2d(g), wT, null, false).view(withLast(g, wT.size(0)));
    }

    /**
     * Forward on oneDNN outside autograd, tied to x by a zero-valued scalar: {@code y += (s − s.detach())}
     * with {@code s = sum(x')}, x' an alias of x. Backward: a hook on y keeps its gradient g; the scalar's
     * path hands x' only an expanded scalar (sum's backward allocates nothing), which a hook on x'
     * replaces with g·W. Per linear that is one pass over x (the sum), one in-place pass over y and one
     * reduction of g, and no buffer of y's or x's size beyond y itself (the earlier zero term padded or
     * narrowed to y's width: a fresh [rows, max(K, N)] buffer filled with zeros in the forward and
     * again in the backward). y's value is exactly the oneDNN output (adding 0).
     */
    private static Tensor hooked(GradHooks hooks, Tensor x, Tensor w, Tensor b, Supplier<Tensor> transposed) {
        // no input needs a gradient: no graph; y is no view (add_ on a view would make autograd copy g whole)
        Tensor y = oneDnnRows(x.detach(), w, b);
        tie(hooks, y, x, new InputGradHook(transposed != null ? transposed.get() : w.t().contiguous(), x.sizes().vec().get()));
        return y.view(withLast(x, w.size(0)));
    }

    /**
     * Ties y, computed outside autograd from x, to x: {@code y += s − s.detach()}, {@code s = sum(x')}
     * with x' an alias of x (a hook on x itself would see the gradient of all of x's uses); the hook's
     * capture half keeps y's gradient, its other half, on x', returns x's. y must be a tensor of its own,
     * not a view (add_ on a view would make autograd copy y's gradient whole).
     */
    static void tie(GradHooks hooks, Tensor y, Tensor x, TiedHook hook) {
        Tensor alias = x.view_as(x);
        Tensor s = alias.sum();
        y.add_(s.sub(s.detach()));
        hooks.add(hook);
        y.register_hook(hook.capture);
        alias.register_hook(hook);
    }

    /** The hook scope open on this thread ({@link #gradHooks()}), or null. */
    static GradHooks currentHooks() {
        return HOOKS.get();
    }

    private static Tensor rows2d(Tensor x) {
        Tensor x2 = x.reshape(-1, x.size(-1));
        return x2.is_contiguous() ? x2 : x2.contiguous();
    }

    private static long[] withLast(Tensor x, long last) {
        long[] sizes = new long[(int) x.dim()];
        for (int i = 0; i < sizes.length - 1; i++) sizes[i] = x.size(i);
        sizes[sizes.length - 1] = last;
        return sizes;
    }

    /**
     * Opens the scope in which {@link #linear} may route input gradients through tensor hooks (one
     * training step's forward and backward, on this thread). The hooks are native callbacks: they
     * must live until the backward has run, and are freed on close. Without an open scope the
     * gradient path uses torch::linear.
     */
    public static GradHooks gradHooks() {
        GradHooks h = new GradHooks(HOOKS.get());
        HOOKS.set(h);
        return h;
    }

    /** The hooks of one forward/backward on one thread. */
    public static final class GradHooks implements AutoCloseable {
        private final GradHooks outer;
        private final List<TiedHook> hooks = new ArrayList<>();
        private Tensor lastReturned;   // the previous hook's result: libtorch holds its own reference by now

        private GradHooks(GradHooks outer) {
            this.outer = outer;
        }

        private TiedHook add(TiedHook hook) {
            // the enclosing (block) scope releases its reference when the block ends; ours is released on close
            if (PointerScope.getInnerScope() != null) {
                hook.retainReference();
                hook.capture.retainReference();
                hook.retainResources();
            }
            hook.owner = this;
            hooks.add(hook);
            return hook;
        }

        private void returned(Tensor t) {
            if (lastReturned != null) lastReturned.releaseReference();
            lastReturned = t;
        }

        @Override
        public void close() {
            if (lastReturned != null) lastReturned.releaseReference();
            lastReturned = null;
            for (TiedHook h : hooks) h.release();
            hooks.clear();
            if (outer == null) HOOKS.remove(); else HOOKS.set(outer);
        }
    }

    /**
     * The two hooks of a {@link #tie}: {@link #capture} keeps the output's gradient g as it arrives;
     * the hook itself, on the input's alias, returns {@link #inputGrad}(g) in place of the (expanded
     * scalar) gradient that reaches it through the zero-valued tie.
     */
    abstract static class TiedHook extends TensorTensorHook {
        private static final Tensor UNCHANGED = undefined();   // "keep the gradient as it is"
        private GradHooks owner;
        private Tensor g;          // the output's gradient, between the two hooks
        final TensorTensorHook capture = new TensorTensorHook() {
            @Override
            public TensorBase call(TensorBase incoming) {
                if (g != null) g.releaseReference();
                try (PointerScope scope = new PointerScope()) {
                    g = new Tensor(incoming);
                    g.retainReference();   // until the hook below has used it
                }
                return UNCHANGED;
            }
        };

        private static Tensor undefined() {
            Tensor t = new Tensor();
            t.retainReference();   // never freed, whatever scope is open when the class loads
            return t;
        }

        /** The input's gradient from the output's (called inside a pointer scope). */
        abstract Tensor inputGrad(Tensor g);

        /** Keeps the subclass's own tensors past the scope the hook was made in (paired with {@link #releaseResources}). */
        abstract void retainResources();

        abstract void releaseResources();

        @Override
        public TensorBase call(TensorBase incoming) {
            if (g == null) throw new IllegalStateException(getClass().getSimpleName() + ": the output's gradient was not seen");
            Tensor out;
            try (PointerScope scope = new PointerScope()) {
                out = inputGrad(g);
                out.retainReference();   // survives this scope
            }
            g.releaseReference();
            g = null;
            owner.returned(out);   // freed at the next hook call or at close, once libtorch has copied it
            return out;
        }

        final void release() {
            if (g != null) g.releaseReference();
            g = null;
            releaseResources();
            capture.releaseReference();
            releaseReference();
        }
    }

    /** The input gradient of one hooked linear: g·W on oneDNN. */
    private static final class InputGradHook extends TiedHook {
        private final Tensor wT;   // [K, N]
        private final long[] xSizes;

        InputGradHook(Tensor wT, long[] xSizes) {
            this.wT = new Tensor(wT);   // its own handle: the caller's may belong to a block's scope
            this.xSizes = xSizes;
        }

        @Override
        Tensor inputGrad(Tensor g) {
            return oneDnnInputGrad(g, wT).view(xSizes);   // g is [rows, N]
        }

        @Override
        void retainResources() { wT.retainReference(); }

        @Override
        void releaseResources() { wT.releaseReference(); }
    }

    /** Whether frozen-weight linears run on oneDNN in this process. */
    public static boolean oneDnnEnabled() {
        Boolean v = oneDnn;
        if (v == null) {
            synchronized (Linear.class) {
                if (oneDnn == null) oneDnn = resolve(configured());
                v = oneDnn;
            }
        }
        return v;
    }

    /** The backend this process uses: "onednn" or "blas". */
    public static String backendName() {
        return oneDnnEnabled() ? "onednn" : "blas";
    }

    /** Forces a backend (tests, benchmarks); AUTO re-applies the default rule. */
    public static synchronized void use(Backend backend) {
        oneDnn = resolve(backend);
    }

    static Backend configured() {
        String s = System.getProperty("cvpt.gemm");
        if (s == null || s.isBlank()) s = System.getenv("CVPT_GEMM");
        if (s == null || s.isBlank()) return Backend.AUTO;
        return switch (s.trim().toLowerCase(Locale.ROOT)) {
            case "onednn", "mkldnn" -> Backend.ONEDNN;
            case "blas", "openblas" -> Backend.BLAS;
            case "auto" -> Backend.AUTO;
            default -> throw new UserException("cvpt.gemm / CVPT_GEMM: expected onednn, blas or auto, got '" + s + "'");
        };
    }

    private static boolean resolve(Backend backend) {
        Native.load();
        return switch (backend) {
            case BLAS -> false;
            case ONEDNN -> {
                if (!hasMKLDNN()) throw new IllegalStateException("this libtorch was built without oneDNN (cvpt.gemm=onednn)");
                yield true;
            }
            case AUTO -> hasMKLDNN() && get_cpu_capability().getString().startsWith("AVX512");
        };
    }
}
