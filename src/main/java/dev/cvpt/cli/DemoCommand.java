package dev.cvpt.cli;

import dev.cvpt.demo.Demo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "demo", sortOptions = false,
        description = {"Watch CVPT learn, with nothing downloaded: synthetic VTAB-like tasks (number, angle, quadrant,",
                "colour) on the shipped small pretrained ViT; compares the linear probe, VPT and CVPT and writes",
                "the table and plots to --out. About 2 minutes on 2 cores."})
public final class DemoCommand implements Callable<Integer> {
    @Option(names = "--out", defaultValue = "runs/demo", paramLabel = "DIR", description = "Default: ${DEFAULT-VALUE}.") Path out;
    @Option(names = "--checkpoint", paramLabel = "CKPT", description = "Another backbone instead of the shipped one.") Path checkpoint;
    @Option(names = "--epochs", defaultValue = "30") int epochs;
    @Option(names = "--train", defaultValue = "400", description = "Training images per task.") int train;
    @Option(names = "--test", defaultValue = "400", description = "Test images per task.") int test;
    @Option(names = "--lr", defaultValue = "3e-2") double lr;
    @Option(names = "--threads", defaultValue = "0") int threads;
    @Option(names = "--segmentation", description = "The segmentation demo instead: synthetic shapes, head-only vs VPT vs CVPT, mIoU (see docs/SEGMENTATION.md).")
    boolean segmentation;
    @Option(names = "--iters", defaultValue = "300", description = "--segmentation: training iterations (default: ${DEFAULT-VALUE}).") int iters;
    @Mixin DebugOption debug;

    @Override
    public Integer call() throws Exception {
        int t = TrainCommand.threadCount(threads);
        if (segmentation) return SegDemoRun.run(out, checkpoint, iters, t);
        Demo.Settings s = new Demo.Settings(train, test, epochs, lr, 10, 0, t);
        Demo.run(out, checkpoint, s, System.err);
        System.out.print(Files.readString(out.resolve("demo.md")));
        System.out.println("\nplots: " + out.resolve("demo.png") + " and runs/*/accuracy.png, loss.png under " + out);
        return Main.OK;
    }
}
