package dev.cvpt.cli;

import dev.cvpt.UserException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;

/** Entry point of the `cvpt` command-line tool. */
@Command(name = "cvpt", mixinStandardHelpOptions = true, scope = CommandLine.ScopeType.INHERIT, version = "cvpt 0.1.0",
        description = "Parameter-efficient fine-tuning of vision transformers (CVPT, VPT, linear probe, full).",
        subcommands = {DemoCommand.class, TrainCommand.class, EvalCommand.class, PredictCommand.class, PretrainCommand.class,
                SuiteCommand.class, TuneCommand.class, SweepCommand.class, SegCommand.class, PruneCommand.class, VerifyCommand.class, PreprocessCommand.class, SynthCommand.class, BenchCommand.class, ExportCommand.class, ServeCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    /** Exit codes shared by all commands. */
    public static final int OK = 0, FAILED = 1, BAD_INPUT = 2;

    @Override
    public void run() { new CommandLine(this).usage(System.out); }

    public static void main(String[] args) {
        dev.cvpt.engine.Native.prepareCache();   // before any libtorch class can load (see Native)
        System.exit(execute(args));
    }

    /** Runs the tool in-process (used by tests); returns the exit code instead of exiting. */
    public static int execute(String... args) {
        boolean debug = java.util.Arrays.asList(args).contains("--debug");
        dev.cvpt.engine.Precision.reset();   // an in-process command's --precision does not carry over
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            PrintWriter err = cmd.getErr();
            if (debug) ex.printStackTrace(err);
            if (ex instanceof UserException) {
                err.println("cvpt: error: " + ex.getMessage());
                err.flush();
                return BAD_INPUT;
            }
            err.println("cvpt: failed: " + describe(ex) + (debug ? "" : " (--debug shows the stack trace)"));
            err.flush();
            return FAILED;
        });
        try {
            return cl.execute(args);
        } finally {
            dev.cvpt.engine.Precision.reset();
        }
    }

    private static String describe(Throwable ex) {
        String m = ex.getMessage();
        return ex.getClass().getSimpleName() + (m == null ? "" : ": " + m.lines().findFirst().orElse(""));
    }
}
