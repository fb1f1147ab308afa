package dev.cvpt.data;

/**
 * How to open a dataset.
 *
 * @param skipBad    leave bad lines and images out (and count them) instead of stopping with the list
 * @param numClasses the class count the caller expects, 0 to take it from the task or the data
 * @param task       the known task name to check against, null to take it from the folder name
 */
public record DatasetOptions(boolean skipBad, int numClasses, String task) {
    public static DatasetOptions defaults() { return new DatasetOptions(false, 0, null); }

    public DatasetOptions withSkipBad(boolean skip) { return new DatasetOptions(skip, numClasses, task); }

    public DatasetOptions withNumClasses(int n) { return new DatasetOptions(skipBad, n, task); }

    public DatasetOptions withTask(String t) { return new DatasetOptions(skipBad, numClasses, t); }
}
