package dev.cvpt.verify;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cvpt.UserException;

import java.nio.file.Path;

/**
 * The one dispatch behind {@code cvpt verify}: a case's {@code config.method} (and for segmentation
 * {@code config.kind}) picks the checker. Classification cases ({@code cvpt}, {@code vpt}, {@code linear},
 * {@code full}) → {@link GoldenCheck}; {@code cvpt-seg} train/slide → {@link SegGoldenCheck}.
 */
public final class Verify {
    private Verify() {}

    /** Runs a case; {@code checkpoint} null: the case's config.ckpt next to it (cases that need one). */
    public static GoldenCheck.Result run(Path caseFile, Path checkpoint) {
        JsonNode c = GoldenCheck.config(caseFile);
        String method = c.path("method").asText();
        if (method.equals("cvpt-seg")) {
            String kind = c.path("kind").asText();
            return switch (kind) {
                case "train", "slide" -> SegGoldenCheck.run(caseFile, checkpoint != null ? checkpoint : GoldenCheck.defaultCheckpoint(caseFile));
                default -> throw new UserException(caseFile + ": config.kind '" + kind + "' of a cvpt-seg case is not known (train, slide)");
            };
        }
        return GoldenCheck.run(caseFile, checkpoint != null ? checkpoint : GoldenCheck.defaultCheckpoint(caseFile));
    }
}
