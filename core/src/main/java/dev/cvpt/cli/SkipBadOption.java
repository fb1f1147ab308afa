package dev.cvpt.cli;

import picocli.CommandLine.Option;

/** Mixin: --skip-bad (leave bad samples out, counted, instead of stopping with the list of problems). */
public final class SkipBadOption {
    @Option(names = "--skip-bad", description = "Leave out bad samples (unreadable image, missing or mismatched annotation, labels out of range), counted, instead of stopping.")
    boolean skipBad;
}
