package dev.cvpt.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.util.concurrent.Callable;

@Command(name = "verify", description = "Recompute a golden case and compare (placeholder).")
public final class VerifyCommand implements Callable<Integer> {
    @Mixin DebugOption debug;

    @Override
    public Integer call() { return Main.OK; }
}
