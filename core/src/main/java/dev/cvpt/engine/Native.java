package dev.cvpt.engine;

import org.bytedeco.javacpp.Loader;

import java.io.IOException;

import static org.bytedeco.pytorch.global.torch.get_num_threads;
import static org.bytedeco.pytorch.global.torch.set_num_threads;

/**
 * Loads libtorch once per JVM.
 *
 * <p>Why not just {@code Loader.load}: on an empty JavaCPP cache the first start could crash
 * (SIGSEGV in pthread_mutex_lock) because libtorch.so was extracted and loaded before
 * libtorch_cpu.so existed in the cache. Extracting every native folder up front, before any
 * library is loaded, makes the very first command on a fresh machine work.
 */
public final class Native {
    private static final String[] NATIVE_DIRS = {
            "/org/bytedeco/javacpp/linux-x86_64/",
            "/org/bytedeco/openblas/linux-x86_64/",
            "/org/bytedeco/pytorch/linux-x86_64/",
    };
    private static volatile boolean loaded;
    private static boolean cached;

    private Native() {}

    /** Loads the native libraries (idempotent, thread-safe). */
    public static void load() {
        if (loaded) return;
        synchronized (Native.class) {
            if (loaded) return;
            prepareCache();
            Loader.load(org.bytedeco.pytorch.global.torch.class);
            enableHugePages();
            loaded = true;
        }
    }

    /**
     * Asks libtorch's CPU allocator for transparent huge pages on buffers of 2 MiB and more
     * ({@code THP_MEM_ALLOC_ENABLE=1}: page-aligned allocation and {@code madvise(MADV_HUGEPAGE)},
     * which the kernel honours when /sys/kernel/mm/transparent_hugepage/enabled is "madvise" or
     * "always"). Without it every fresh activation buffer is faulted in 4 KiB pages: on this
     * project's VMs that cost 190 ms per 77 MB buffer (15 ms with huge pages), and cut the fc1 GEMM
     * from 155 to 48 GFLOP/s on one core (docs/PERFORMANCE.md, "Page faults"). numpy does the same
     * for its large arrays. A value the user set (0 to turn it off) is kept. libtorch reads the
     * variable once, at its first allocation, so this runs right after the library loads.
     */
    private static void enableHugePages() {
        org.bytedeco.pytorch.global.torch.set_env("THP_MEM_ALLOC_ENABLE", "1", false);
    }

    /** GLIBC_TUNABLES of this process (the {@code cvpt} launcher sets malloc's mmap and trim thresholds), or "unset". */
    public static String mallocTunables() {
        String v = System.getenv("GLIBC_TUNABLES");
        return v == null ? "unset" : v;
    }

    /** THP_MEM_ALLOC_ENABLE as libtorch sees it ("1" unless the user set another value). */
    public static String hugePages() {
        load();
        var v = org.bytedeco.pytorch.global.torch.get_env("THP_MEM_ALLOC_ENABLE");
        return v.has_value() ? v.get().getString() : "unset";
    }

    /** The kernel's transparent-huge-page mode (the bracketed word of its sysfs file), or "unknown". */
    public static String kernelHugePages() {
        try {
            String s = java.nio.file.Files.readString(java.nio.file.Path.of("/sys/kernel/mm/transparent_hugepage/enabled"));
            int a = s.indexOf('['), b = s.indexOf(']');
            return a >= 0 && b > a ? s.substring(a + 1, b) : s.strip();
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }

    /**
     * Extracts every native folder into the JavaCPP cache, loading nothing. Any first use of a
     * {@code org.bytedeco.pytorch} class (a {@code PointerScope} does not count, a {@code NoGradGuard}
     * does) loads libtorch through JavaCPP directly, so this must run before any of them: the CLI's
     * {@code main} and the test suite's {@code NativeFirst} extension call it first thing.
     */
    public static synchronized void prepareCache() {
        if (cached) return;
        try {
            for (String dir : NATIVE_DIRS) {
                if (Native.class.getResource(dir) != null) Loader.cacheResources(dir);
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot extract the libtorch native libraries into the JavaCPP cache ("
                    + System.getProperty("org.bytedeco.javacpp.cachedir", "~/.javacpp/cache") + "): " + e.getMessage(), e);
        }
        cached = true;
    }

    /**
     * Sets torch's intra-op threads of the calling thread to 1 (env CVPT_TORCH_THREADS overrides);
     * a command's --threads N cores are used by {@link DataParallel}, which runs one
     * chunk of each batch per core, every chunk single-threaded; libtorch's GEMMs run on its bundled
     * OpenBLAS, whose thread count is read once from OPENBLAS_NUM_THREADS when it loads (the ./cvpt
     * launcher sets 1). Two thread pools spinning on the same cores cost up to 40x on small models
     * and 2.5x in attention on ViT-B (measured; see docs/PERFORMANCE.md).
     */
    public static void configureThreads() {
        load();
        set_num_threads(configuredTorchThreads());
    }

    /** The torch thread count {@link #configureThreads} sets: CVPT_TORCH_THREADS, else 1 (threads of its own, e.g. a server's compute threads, set it themselves: it is per thread). */
    public static int configuredTorchThreads() {
        String env = System.getenv("CVPT_TORCH_THREADS");
        return env != null && env.matches("\\d+") && Integer.parseInt(env) > 0 ? Integer.parseInt(env) : 1;
    }

    public static int threads() {
        load();
        return get_num_threads();
    }

    /**
     * OpenBLAS's thread count as the process was started with (OPENBLAS_NUM_THREADS; -1 when unset).
     * It cannot be changed at run time from Java: the JavaCPP openblas presets 0.3.31-1.5.13 do not
     * map openblas_set_num_threads / openblas_get_num_threads (checked with javap), and OpenBLAS reads
     * the variable once, when libtorch loads it.
     */
    public static int blasThreads() {
        String env = System.getenv("OPENBLAS_NUM_THREADS");
        return env != null && env.matches("\\d+") ? Integer.parseInt(env) : -1;
    }

    /** OPENBLAS_CORETYPE as the process was started with, or "auto" (OpenBLAS detects the CPU). */
    public static String blasCoreType() {
        String env = System.getenv("OPENBLAS_CORETYPE");
        return env == null || env.isBlank() ? "auto" : env;
    }

    /** ATen's vectorised-kernel level (e.g. AVX512, AVX2). */
    public static String cpuCapability() {
        load();
        return org.bytedeco.pytorch.global.torch.get_cpu_capability().getString();
    }
}
