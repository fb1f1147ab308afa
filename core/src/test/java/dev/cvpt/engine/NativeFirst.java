package dev.cvpt.engine;

import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Registered for every test class (META-INF/services + junit-platform.properties): fills the
 * JavaCPP cache before any test can touch a libtorch class. Without it, a test whose first
 * statement makes a NoGradGuard crashed the JVM on a fresh cache (SIGSEGV in pthread_mutex_lock
 * while loading libtorch_cpu.so; seen on a new machine on 2026-12-05).
 */
public final class NativeFirst implements BeforeAllCallback {
    @Override
    public void beforeAll(ExtensionContext context) {
        Native.prepareCache();
    }
}
