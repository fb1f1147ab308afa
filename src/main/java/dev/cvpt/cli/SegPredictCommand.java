package dev.cvpt.cli;

import picocli.CommandLine.Command;

import java.util.concurrent.Callable;

@Command(name = "predict", description = "TODO")
public final class SegPredictCommand implements Callable<Integer> {
    @Override
    public Integer call() { throw new dev.cvpt.UserException("not yet"); }
}
