package dev.cvpt.engine;

import dev.cvpt.UserException;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

import static org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The number format of the frozen backbone's matrix products, for the whole process (as the GEMM
 * backend of {@link Linear}): {@link #FP32} (the default, the golden cases' format) or {@link #BF16}.
 *
 * <p>BF16: when a backbone is loaded, the weights and biases of its blocks' linears (qkv, proj, fc1,
 * fc2) are also kept as bfloat16 copies, and {@link Linear} runs those products in bf16 with fp32
 * accumulation (oneDNN's AVX512-BF16 kernels where the CPU has them): the input is rounded to bf16,
 * the output comes back as fp32. Everything else stays fp32: the patch embedding, LayerNorm,
 * the attention's softmax and its two small matmuls, CVPT's folded cross-attention, the head, the
 * loss and every trainable (prompts, adapters, LoRA factors, optimizer state). A backbone that is
 * trained (full fine-tuning) has no bf16 copies: its linears stay fp32.
 *
 * <p>Set by {@code --precision} (train, eval, predict, serve, bench, suite, tune), the system
 * property {@code cvpt.precision}, or the environment variable {@code CVPT_PRECISION}; the flag wins.
 */
public enum Precision {
    FP32, BF16;

    /** The block linears whose weights get a bf16 copy. */
    private static final Pattern LINEAR = Pattern.compile("blocks\\.\\d+\\.(attn\\.qkv|attn\\.proj|mlp\\.fc1|mlp\\.fc2)\\.(weight|bias)");

    private static volatile Precision current;

    /** The name of the flag value: fp32 or bf16. */
    public String flag() { return name().toLowerCase(Locale.ROOT); }

    /** fp32 or bf16 (case-insensitive); a {@link UserException} naming {@code what} otherwise (the flag, run.json, the environment). */
    public static Precision parse(String s, String what) {
        return switch (s == null ? "" : s.trim().toLowerCase(Locale.ROOT)) {
            case "fp32", "float32", "float" -> FP32;
            case "bf16", "bfloat16" -> BF16;
            default -> throw new UserException(what + ": expected fp32 or bf16, got '" + s + "'");
        };
    }

    /** This process's precision: the last {@link #use}, else cvpt.precision / CVPT_PRECISION, else FP32. */
    public static Precision current() {
        Precision p = current;
        if (p == null) {
            synchronized (Precision.class) {
                if (current == null) {
                    String s = System.getProperty("cvpt.precision");
                    String what = "cvpt.precision";
                    if (s == null || s.isBlank()) {
                        s = System.getenv("CVPT_PRECISION");
                        what = "CVPT_PRECISION";
                    }
                    current = s == null || s.isBlank() ? FP32 : parse(s, what);
                }
                p = current;
            }
        }
        return p;
    }

    /** Back to the default (cvpt.precision / CVPT_PRECISION, else FP32): each in-process command starts from it. */
    public static synchronized void reset() {
        current = null;
    }

    /** Sets this process's precision (backbones loaded afterwards follow it). */
    public static synchronized void use(Precision p) {
        current = p;
    }

    /**
     * The bf16 copies of a backbone's block-linear weights and biases (empty under FP32), made once
     * when the backbone is loaded and shared by every model built on it.
     */
    public Map<String, Tensor> lowWeights(Map<String, Tensor> backbone) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        if (this != BF16) return out;
        try (NoGradGuard g = new NoGradGuard()) {
            backbone.forEach((n, t) -> {
                if (LINEAR.matcher(n).matches()) out.put(n, t.to(ScalarType.BFloat16).contiguous());
            });
        }
        return out;
    }

    /**
     * Whether this CPU has native bf16 dot products (x86 {@code avx512_bf16} or {@code amx_bf16} in
     * /proc/cpuinfo). Without them libtorch's bf16 products are emulated and slower than fp32.
     */
    public static boolean cpuHasBf16() {
        try {
            String flags = java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/cpuinfo")).stream()
                    .filter(l -> l.startsWith("flags")).findFirst().orElse("");
            return flags.contains(" avx512_bf16") || flags.contains(" amx_bf16");
        } catch (java.io.IOException | RuntimeException e) {
            return false;
        }
    }

    /** Whether a tensor holds bfloat16. */
    public static boolean isBf16(Tensor t) {
        return Tensors.is(t, ScalarType.BFloat16);
    }
}
