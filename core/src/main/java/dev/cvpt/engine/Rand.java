package dev.cvpt.engine;

import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.GeneratorOptional;

import java.util.function.Supplier;

import static org.bytedeco.pytorch.global.torch.createCPUGenerator;
import static org.bytedeco.pytorch.global.torch.getDefaultCPUGenerator;

/**
 * The random generator the model's stochastic ops (prompt dropout, drop-path) draw from: the
 * generator bound to the current thread, else torch's default CPU generator.
 *
 * <p>A training run binds its own generator to the thread that drives it ({@link #bind}); the
 * data-parallel workers get one generator per chunk, seeded from the run's generator on the calling
 * thread. So every draw of a run comes from generators that the run owns, and two runs in one JVM
 * (one after the other or at the same time) give the numbers each gives alone. Draws that must use
 * torch's default generator (the model's initialisation) go through {@link #drawingFromDefault},
 * which lends the default generator the run's state under a lock and takes the advanced state back.
 */
public final class Rand {
    private static final ThreadLocal<Generator> LOCAL = new ThreadLocal<>();
    private static final Object DEFAULT_LOCK = new Object();

    private Rand() {}

    /** The generator for this thread's draws (empty optional: torch's default generator). */
    public static GeneratorOptional generator() {
        Generator g = LOCAL.get();
        return g == null ? new GeneratorOptional() : new GeneratorOptional(g);
    }

    /** True when this thread has its own generator. */
    public static boolean local() { return LOCAL.get() != null; }

    /** This thread's generator, or null (torch's default). */
    public static Generator current() { return LOCAL.get(); }

    /** Sets (or, with null, clears) this thread's generator. */
    public static void use(Generator g) {
        if (g == null) LOCAL.remove();
        else LOCAL.set(g);
    }

    /**
     * A run's own generator, in the state that {@code manual_seed(seed)} gives torch's default
     * generator (so a run's draws are those it made when it seeded the default generator).
     */
    public static Generator forRun(long seed) {
        Native.load();
        return createCPUGenerator(seed);
    }

    /** Binds {@code g} to this thread until the returned binding is closed (which restores the previous one). */
    public static Binding bind(Generator g) {
        Generator previous = LOCAL.get();
        use(g);
        return () -> use(previous);
    }

    /** A thread's generator binding; closing it restores the previous one. */
    public interface Binding extends AutoCloseable {
        @Override void close();
    }

    /**
     * Runs code that draws from torch's default generator (e.g. the model's initialisation) as if it
     * drew from {@code g}: under a JVM-wide lock, the default generator takes g's state, the body runs,
     * and g takes the advanced state back.
     */
    public static <T> T drawingFromDefault(Generator g, Supplier<T> body) {
        synchronized (DEFAULT_LOCK) {
            Generator d = getDefaultCPUGenerator();
            d.set_state(g.get_state());
            T out = body.get();
            g.set_state(d.get_state());
            return out;
        }
    }
}
