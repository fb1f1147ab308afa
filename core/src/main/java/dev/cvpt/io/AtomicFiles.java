package dev.cvpt.io;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/** Writes files so that a crash or a full disk never leaves a half-written file under the final name. */
public final class AtomicFiles {
    private AtomicFiles() {}

    /** What to write into the temporary file. */
    @FunctionalInterface
    public interface Body { void write(OutputStream out) throws IOException; }

    /**
     * Writes {@code target} through a temporary file in its folder, forced to disk, then renamed over
     * it. On any failure (full disk, read-only folder) the temporary file is removed, an existing
     * {@code target} is left as it was, and the IOException names {@code target} (a
     * {@link FileSystemException} whose reason is the system's).
     */
    public static void write(Path target, Body body) throws IOException {
        Path abs = target.toAbsolutePath();
        try {
            writeUnnamed(abs, body);
        } catch (FileSystemException e) {
            if (abs.toString().equals(e.getFile()) && e.getOtherFile() == null) throw e;
            throw named(abs, e.getReason() != null ? e.getReason() : e.getMessage(), e);
        } catch (IOException e) {
            throw named(abs, e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName(), e);
        }
    }

    private static FileSystemException named(Path file, String reason, IOException cause) {
        FileSystemException f = new FileSystemException(file.toString(), null, reason);
        f.initCause(cause);
        return f;
    }

    private static void writeUnnamed(Path abs, Body body) throws IOException {
        Path dir = abs.getParent();
        if (dir != null) Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + abs.getFileName() + ".", ".tmp");
        try {
            try (OutputStream out = new java.io.BufferedOutputStream(Files.newOutputStream(tmp, StandardOpenOption.WRITE), 1 << 16)) {
                body.write(out);
            }
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            try {
                Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
