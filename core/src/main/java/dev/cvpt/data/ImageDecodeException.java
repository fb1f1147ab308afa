package dev.cvpt.data;

import dev.cvpt.UserException;

import java.nio.file.Path;

/** An image file that cannot be decoded: names the file and says why. */
public class ImageDecodeException extends UserException {
    private final transient Path file;
    private final String reason;

    public ImageDecodeException(Path file, String reason) {
        super(file + ": " + reason);
        this.file = file;
        this.reason = reason;
    }

    public Path file() { return file; }

    /** The reason without the file name. */
    public String reason() { return reason; }
}
