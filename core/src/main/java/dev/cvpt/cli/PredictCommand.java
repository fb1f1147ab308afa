package dev.cvpt.cli;

import dev.cvpt.engine.Native;
import dev.cvpt.serve.Predictor;
import dev.cvpt.train.TaskFile;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.OptionalInt;
import java.util.concurrent.Callable;

@Command(name = "predict", sortOptions = false, description = "Top-k labels with probabilities for each image.")
public final class PredictCommand implements Callable<Integer> {
    @Option(names = "--task", required = true, paramLabel = "FILE") Path task;
    @Option(names = "--checkpoint", paramLabel = "CKPT", description = "The backbone (default: the one recorded in the task file).") Path checkpoint;
    @Option(names = "--top", defaultValue = "5") int top;
    @Option(names = "--threads", defaultValue = "0") int threads;
    @Option(names = "--heads") Integer heads;
    @Parameters(paramLabel = "IMAGE", arity = "1..*") List<Path> images;
    @Mixin DebugOption debug;

    @Override
    public Integer call() {
        Native.configureThreads();
        TaskFile tf = TaskFile.read(task);
        try (Predictor p = Predictor.load(Predictor.backboneOf(tf, checkpoint), heads == null ? OptionalInt.empty() : OptionalInt.of(heads))) {
            String name = p.addTask(task).name();
            for (Path img : images) {
                System.out.println(img);
                for (Predictor.Prediction pr : p.predict(name, img, top))
                    System.out.printf(Locale.ROOT, "  %6.2f%%  %s%n", 100 * pr.probability(), pr.label());
            }
        }
        return Main.OK;
    }
}
