package dev.cvpt.engine;

import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.GeneratorOptional;

/**
 * The random generator the model's stochastic ops (prompt dropout, drop-path) draw from: torch's
 * default CPU generator, unless the current thread was given its own (data-parallel workers get one
 * each, seeded from the default generator on the calling thread, so a run stays reproducible).
 */
public final class Rand {
    private static final ThreadLocal<Generator> LOCAL = new ThreadLocal<>();

    private Rand() {}

    /** The generator for this thread's draws (empty optional: torch's default generator). */
    public static GeneratorOptional generator() {
        Generator g = LOCAL.get();
        return g == null ? new GeneratorOptional() : new GeneratorOptional(g);
    }

    /** True when this thread has its own generator. */
    public static boolean local() { return LOCAL.get() != null; }

    /** Sets (or, with null, clears) this thread's generator. */
    public static void use(Generator g) {
        if (g == null) LOCAL.remove();
        else LOCAL.set(g);
    }
}
