package dev.cvpt.cli;

import picocli.CommandLine.Option;

/** Mixin: --threads N (compute and data threads; 0 = all cores). */
public final class ThreadsOption {
    @Option(names = "--threads", defaultValue = "0", description = "Compute and data threads (default: all cores).")
    int threads;

    public int count() { return TrainCommand.threadCount(threads); }
}
