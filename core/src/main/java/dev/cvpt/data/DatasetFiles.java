package dev.cvpt.data;

import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;

/** Path checks shared by the dataset readers. */
final class DatasetFiles {
    private DatasetFiles() {}

    /**
     * {@code rel} resolved inside {@code root}, or the reason it is not usable: absolute, escaping
     * the folder ({@code ../../etc/passwd}), invalid, missing or not a regular file. The check is
     * lexical; a symbolic link inside the folder is followed, as a user may lay out data that way.
     */
    static Object resolve(Path root, String rel) {
        Path p;
        try {
            Path r = Path.of(rel);
            if (r.isAbsolute()) return "absolute path '" + rel + "' (paths must be relative to " + root + ")";
            p = root.resolve(r).normalize();
        } catch (InvalidPathException e) {
            return "invalid path '" + rel + "'";
        }
        if (!p.startsWith(root.normalize())) return "path '" + rel + "' escapes the dataset folder " + root;
        if (!Files.exists(p)) return "missing file " + p;
        if (!Files.isRegularFile(p)) return "not a file: " + p;
        return p;
    }

    static String fileName(Path p) {
        Path f = p.toAbsolutePath().normalize().getFileName();
        return f == null ? p.toString() : f.toString();
    }
}
