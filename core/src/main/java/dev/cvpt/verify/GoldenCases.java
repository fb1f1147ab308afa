package dev.cvpt.verify;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cvpt.UserException;
import dev.cvpt.io.HostTensor;

import java.nio.file.Path;
import java.util.Map;
import java.util.TreeSet;

/**
 * Dispatch of {@code cvpt verify CASE.npz} on the case's {@code config.kind}: classification cases
 * (no kind) go to {@link GoldenCheck}; segmentation cases to the checker of their kind. A new kind is
 * one entry in {@link #KINDS}.
 */
public final class GoldenCases {
    private GoldenCases() {}

    /** The outcome of any case: pass/fail, the JSON report, and the recomputed entries (for --dump). */
    public record Outcome(boolean passed, Map<String, Object> json, Map<String, HostTensor> computed) {}

    /** A checker for one kind; {@code checkpoint} is null when the user gave none. */
    @FunctionalInterface
    public interface Kind {
        Outcome run(Path caseFile, Path checkpoint);
    }

    /** config.kind → checker: segmentation model cases (train, slide: {@link SegModelCheck}), metrics and resize. */
    static final Map<String, Kind> KINDS = Map.of(
            "train", SegModelCheck::outcome,
            "slide", SegModelCheck::outcome,
            "metrics", SegGoldenCheck::metrics,
            "resize", SegGoldenCheck::resize);

    public static Outcome run(Path caseFile, Path checkpoint) {
        JsonNode cfg = GoldenCheck.config(caseFile);
        JsonNode kind = cfg.get("kind");
        if (kind == null || kind.isNull()) {
            Path ckpt = checkpoint != null ? checkpoint : GoldenCheck.defaultCheckpoint(caseFile);
            GoldenCheck.Result r = GoldenCheck.run(caseFile, ckpt);
            return new Outcome(r.passed(), r.toJson(), r.computed());
        }
        Kind k = KINDS.get(kind.asText());
        if (k == null)
            throw new UserException(caseFile + ": config.kind '" + kind.asText() + "' has no checker (known: "
                    + String.join(", ", new TreeSet<>(KINDS.keySet())) + ", or no kind for classification cases)");
        return k.run(caseFile, checkpoint);
    }
}
