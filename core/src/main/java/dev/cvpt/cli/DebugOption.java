package dev.cvpt.cli;

import picocli.CommandLine.Option;

/** Mixin for every command: --debug shows stack traces (Main reads the flag from the raw arguments). */
public final class DebugOption {
    @Option(names = "--debug", description = "Show the stack trace of an error.")
    boolean debug;
}
