package dev.cvpt.data;

import java.nio.file.Path;
import java.util.List;

/**
 * A list of labelled images. Labels are 0..numClasses-1.
 *
 * @param name       task name (e.g. "cifar", "CUB") or folder name
 * @param root       the folder the image paths are inside
 * @param split      the split it was opened as
 * @param skipped    lines or files left out because of problems (only with skipBad)
 * @param problems   what was left out, as {@code file:line: reason} (empty unless skipBad)
 */
public record Dataset(String name, Path root, String split, List<Sample> samples, List<String> classNames,
                      int skipped, List<String> problems) {
    public Dataset {
        samples = List.copyOf(samples);
        classNames = List.copyOf(classNames);
        problems = List.copyOf(problems);
    }

    public int numClasses() { return classNames.size(); }

    public int size() { return samples.size(); }

    /** This dataset with only {@code kept} samples, more skipped ones and their problems. */
    public Dataset withSamples(List<Sample> kept, List<String> moreProblems) {
        List<String> all = new java.util.ArrayList<>(problems);
        all.addAll(moreProblems);
        return new Dataset(name, root, split, kept, classNames, skipped + (samples.size() - kept.size()), all);
    }
}
