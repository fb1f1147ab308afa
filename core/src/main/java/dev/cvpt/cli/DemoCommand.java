package dev.cvpt.cli;

import dev.cvpt.demo.Demo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "demo", sortOptions = false,
        description = {"Watch CVPT learn, with nothing downloaded: synthetic VTAB-like tasks (number, angle, quadrant,",
                "colour) on the shipped small pretrained ViT; compares the linear probe, VPT and CVPT and writes",
                "the table and plots to --out. Each method runs at the lr its own val split picks (3 lrs tried)."})
public final class DemoCommand implements Callable<Integer> {
    @Option(names = "--out", defaultValue = "runs/demo", paramLabel = "DIR", description = "Default: ${DEFAULT-VALUE}.") Path out;
    @Option(names = "--checkpoint", paramLabel = "CKPT", description = "Another backbone instead of the shipped one.") Path checkpoint;
    @Option(names = "--epochs", defaultValue = "30") int epochs;
    @Option(names = "--train", defaultValue = "320", description = "Training images per task (default: ${DEFAULT-VALUE}).") int train;
    @Option(names = "--val", defaultValue = "80", description = "Validation images per task, which choose each method's lr (default: ${DEFAULT-VALUE}).") int val;
    @Option(names = "--test", defaultValue = "400", description = "Test images per task (default: ${DEFAULT-VALUE}).") int test;
    @Option(names = "--lr", split = ",", defaultValue = "1e-2,3e-2,1e-1", paramLabel = "LR[,LR...]",
            description = "The lrs each method chooses from on val (default: ${DEFAULT-VALUE}).") List<Double> lr;
    @Option(names = "--threads", defaultValue = "0") int threads;
    @Option(names = "--seed", paramLabel = "S", defaultValue = "0",
            description = "Seeds the synthetic images and the training; another seed repeats the whole comparison on other draws (default: ${DEFAULT-VALUE}).")
    long seed;
    @Option(names = "--segmentation", description = "The segmentation demo instead: synthetic shapes, head-only vs VPT vs CVPT, mIoU (see docs/SEGMENTATION.md).")
    boolean segmentation;
    @Option(names = "--iters", defaultValue = "300", description = "--segmentation: training iterations (default: ${DEFAULT-VALUE}).") int iters;
    @Mixin DebugOption debug;
    @Mixin PrecisionOption precisionOption;

    @Override
    public Integer call() throws Exception {
        precisionOption.apply();
        int t = TrainCommand.threadCount(threads);
        if (segmentation) return SegDemoRun.run(out, checkpoint, iters, seed, t);
        Demo.Settings s = new Demo.Settings(train, val, test, epochs, lr, 10, seed, t);
        Demo.run(out, checkpoint, s, System.err);
        System.out.print(Files.readString(out.resolve("demo.md")));
        System.out.println("\nplots: " + out.resolve("demo.png") + " and runs/*/accuracy.png, loss.png under " + out);
        return Main.OK;
    }
}
