package dev.cvpt.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code cvpt seg ...}: semantic segmentation (ADE20K layout, SETR-PUP heads, slide inference, mIoU).
 * A parent command of its own rather than flags on train/eval/predict/bench: its options (iterations,
 * crop, stride, SGD, head lr multiplier, aux heads), outputs (mIoU tables, PNG masks) and task files
 * differ from classification's almost entirely; shared flags come from the same mixins.
 */
@Command(name = "seg", description = "Semantic segmentation: train, eval, predict, bench (CVPT/VPT/head-only/full with SETR-PUP heads).",
        subcommands = {SegTrainCommand.class, SegEvalCommand.class, SegPredictCommand.class, SegBenchCommand.class, CommandLine.HelpCommand.class})
public final class SegCommand implements Runnable {
    @Override
    public void run() { new CommandLine(this).usage(System.out); }
}
