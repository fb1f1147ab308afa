package dev.cvpt.spark;

import dev.cvpt.engine.Native;

import java.nio.file.Path;

/**
 * Per-executor-JVM setup, done once: JavaCPP's cache folder on the node's local disk (not a shared
 * home folder, where executors of several nodes would extract libtorch over each other), then
 * libtorch loaded and torch's thread count set (about 7 s per JVM; the tasks of a JVM share it).
 */
final class Executors {
    private static volatile boolean ready;

    private Executors() {}

    static synchronized void prepare() {
        if (ready) return;
        if (System.getProperty("org.bytedeco.javacpp.cachedir") == null) {
            String local = System.getenv().getOrDefault("SPARK_LOCAL_DIRS", System.getProperty("java.io.tmpdir")).split(",")[0];
            System.setProperty("org.bytedeco.javacpp.cachedir",
                    Path.of(local, "cvpt-javacpp-" + System.getProperty("user.name", "user")).toString());
        }
        long t0 = System.nanoTime();
        Native.configureThreads();
        System.err.printf(java.util.Locale.ROOT, "cvpt: libtorch loaded in %.1f s (JavaCPP cache %s)%n",
                (System.nanoTime() - t0) / 1e9, System.getProperty("org.bytedeco.javacpp.cachedir"));
        ready = true;
    }
}
