package dev.cvpt.cli;

import dev.cvpt.engine.Precision;
import picocli.CommandLine.Option;

/** Mixin: --precision fp32|bf16, the format of the frozen backbone's matrix products (see {@link Precision}). */
public final class PrecisionOption {
    @Option(names = "--precision", paramLabel = "fp32|bf16",
            description = "Frozen backbone's matrix products: fp32 (default) or bf16 (bf16 weights and inputs, fp32 accumulation; "
                    + "LayerNorm, softmax, loss and trainables stay fp32). Default: CVPT_PRECISION, else fp32.")
    String precision;

    /** Sets the process's precision from the flag (when given); call before a backbone loads. */
    public Precision apply() {
        if (precision != null) Precision.use(Precision.parse(precision, "--precision"));
        Precision p = Precision.current();
        if (p == Precision.BF16 && !Precision.cpuHasBf16())
            System.err.println("cvpt: warning: this CPU has no native bf16 dot products (avx512_bf16/amx_bf16); "
                    + "--precision bf16 will be emulated and likely slower than fp32");
        return p;
    }

    /** Whether the flag was given. */
    public boolean given() { return precision != null; }
}
