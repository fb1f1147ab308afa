package dev.cvpt.data;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Collects what is wrong with a dataset as {@code file:line: reason}, instead of stopping at the first. */
public final class DatasetProblems {
    private final List<String> problems = new ArrayList<>();

    public synchronized void add(Path file, int line, String reason) {
        problems.add(file + (line > 0 ? ":" + line : "") + ": " + reason);
    }

    public synchronized void add(Path file, String reason) { add(file, 0, reason); }

    /** A problem already located (e.g. a sample's {@code file:line}). */
    public synchronized void add(String where, String reason) { problems.add(where + ": " + reason); }

    public synchronized boolean isEmpty() { return problems.isEmpty(); }

    public synchronized int size() { return problems.size(); }

    public synchronized List<String> list() { return List.copyOf(problems); }

    /** Throws a {@link DataException} listing every problem, if there is any. */
    public void throwIfAny(String summary) {
        List<String> all = list();
        if (!all.isEmpty()) throw new DataException(summary, all);
    }
}
