package dev.cvpt.cli;

import picocli.CommandLine.Command;

import java.util.concurrent.Callable;

@Command(name = "eval", description = "TODO")
public final class SegEvalCommand implements Callable<Integer> {
    @Override
    public Integer call() { throw new dev.cvpt.UserException("not yet"); }
}
