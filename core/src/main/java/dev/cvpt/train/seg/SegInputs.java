package dev.cvpt.train.seg;

import dev.cvpt.data.seg.SegSample;

import java.nio.file.Path;
import java.util.List;

/**
 * What segmentation training and evaluation read: the training split through the training pipeline (each
 * sample's randomness from a seed, so a resumed run sees the same crops) and the validation split through
 * the test pipeline (keep-ratio resize, normalise; the raw label at the original size for the metrics).
 */
public interface SegInputs extends AutoCloseable {
    int numClasses();

    boolean reduceZeroLabel();

    List<String> classNames();

    int[][] palette();

    int trainSize();

    int valSize();

    /** Samples left out as bad (--skip-bad). */
    int skipped();

    /** Training sample {@code index} with its augmentation drawn from {@code seed}. */
    SegSample train(int index, long seed);

    /** Validation sample {@code index} (test pipeline). */
    SegSample val(int index);

    @Override
    default void close() {}

    /** The ADE20K-layout folder {@code data} (images/ and annotations/ with training and validation). */
    static SegInputs open(Path data, SegRecipe r, boolean skipBad, int threads) {
        return SegFolderInputs.open(data, r, skipBad, threads, true, "validation");
    }

    /** Only the evaluation split {@code split} (validation, or training) of {@code data}. */
    static SegInputs openEval(Path data, String split, SegRecipe r, boolean skipBad, int threads) {
        return SegFolderInputs.open(data, r, skipBad, threads, false, split);
    }
}
