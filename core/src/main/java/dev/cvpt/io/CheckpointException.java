package dev.cvpt.io;

import java.nio.file.Path;

/**
 * A checkpoint or array file that cannot be used: names the file, the tensor when there is one,
 * and what was expected. The message is meant to be shown to a user as one line.
 */
public class CheckpointException extends dev.cvpt.UserException {
    private final transient Path file;
    private final String tensor;

    public CheckpointException(Path file, String tensor, String message) {
        this(file, tensor, message, null);
    }

    public CheckpointException(Path file, String tensor, String message, Throwable cause) {
        super(format(file, tensor, message), cause);
        this.file = file;
        this.tensor = tensor;
    }

    public Path file() { return file; }

    /** The tensor the problem is about, or null when it concerns the whole file. */
    public String tensor() { return tensor; }

    private static String format(Path file, String tensor, String message) {
        StringBuilder sb = new StringBuilder();
        if (file != null) sb.append(file).append(": ");
        if (tensor != null) sb.append("tensor '").append(tensor).append("': ");
        return sb.append(message).toString();
    }
}
