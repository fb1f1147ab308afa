package dev.cvpt;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where the shared test material lies (../shared beside the checkout; surefire sets cvpt.shared). */
public final class TestData {
    private TestData() {}

    public static Path shared() {
        Path p = Path.of(System.getProperty("cvpt.shared", "../shared"));
        if (!Files.isDirectory(p)) throw new IllegalStateException("shared test data not found at " + p.toAbsolutePath());
        return p;
    }

    public static Path golden(String name) { return shared().resolve("golden").resolve(name); }

    public static Path resource(String name) {
        try {
            return Path.of(TestData.class.getResource("/" + name).toURI());
        } catch (Exception e) {
            throw new IllegalStateException("test resource " + name + " missing", e);
        }
    }
}
