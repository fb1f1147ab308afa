package dev.cvpt.train;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * One run of a larger whole (a suite task, a tuning trial, a plan line): done when its folder holds
 * metrics.json (then it is not run again), resumed like {@code train --resume} when its folder holds a
 * training state, started otherwise. So a killed tune, suite or sweep continues where it stopped.
 */
public final class Runs {
    private Runs() {}

    /** Whether the run in {@code dir} has finished. */
    public static boolean done(Path dir) { return Files.exists(dir.resolve("metrics.json")); }

    /** Runs (or resumes, or skips) the run and returns its metrics.json. */
    public static JsonNode runOrResume(Trainer.Options o, PrintStream log) throws IOException {
        Path metrics = o.runDir().resolve("metrics.json");
        if (!Files.exists(metrics))
            Trainer.run(o, Files.exists(o.runDir().resolve(Trainer.STATE)), log);
        return TaskFile.JSON.readTree(Files.readString(metrics));
    }
}
