package dev.cvpt.data;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where the shared test data lives: -Dcvpt.shared (surefire sets it), else ../shared. */
final class TestData {
    private TestData() {}

    static Path shared() {
        String p = System.getProperty("cvpt.shared");
        Path dir = p != null ? Path.of(p) : Path.of("..", "shared");
        if (!Files.isDirectory(dir)) dir = Path.of("/work/shared");
        return dir;
    }

    static Path images() { return shared().resolve("images"); }
}
