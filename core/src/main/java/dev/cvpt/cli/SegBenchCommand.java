package dev.cvpt.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cvpt.UserException;
import dev.cvpt.bench.SegBench;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

@Command(name = "bench", sortOptions = false,
        description = {"Segmentation throughput on random weights: a training step (--mode train) or slide inference",
                "(--mode slide) at the official crop; one JSON line with the fields of scripts/seg_bench_baseline.py (the PyTorch oracle)."})
public final class SegBenchCommand implements Callable<Integer> {
    @Option(names = "--mode", defaultValue = "train", description = "train or slide (default: ${DEFAULT-VALUE}).") String mode;
    @Option(names = "--size", defaultValue = "base", description = "micro, tiny, small or base (default: ${DEFAULT-VALUE}).") String size;
    @Option(names = "--method", defaultValue = "cvpt", description = "cvpt, vpt, head or full (default: ${DEFAULT-VALUE}).") String method;
    @Option(names = "--batch", defaultValue = "2", description = "Training crops per step (default: ${DEFAULT-VALUE}, one device's share of the official 16).") int batch;
    @Option(names = "--steps", defaultValue = "3") int steps;
    @Option(names = "--warmup", defaultValue = "1") int warmup;
    @Option(names = "--crop", defaultValue = "512") int crop;
    @Option(names = "--stride", defaultValue = "341") int stride;
    @Option(names = "--image", split = "x", defaultValue = "512x683", paramLabel = "HxW", description = "Slide: image size (default: ${DEFAULT-VALUE}, an ADE20K val image after the test resize).")
    int[] image;
    @Option(names = "--num-classes", defaultValue = "150") int numClasses;
    @Option(names = "--seed", defaultValue = "0") long seed;
    @Mixin ThreadsOption threads;
    @Mixin DebugOption debug;

    @Override
    public Integer call() throws Exception {
        SegBench.Options o;
        try {
            if (image.length != 2) throw new IllegalArgumentException("--image is HxW, e.g. 512x683");
            o = new SegBench.Options(size, mode, method, batch, steps, warmup, threads.count(), crop, stride, image[0], image[1], numClasses, seed);
        } catch (IllegalArgumentException e) {
            throw new UserException(e.getMessage());
        }
        System.out.println(new ObjectMapper().writeValueAsString(SegBench.run(o)));
        return Main.OK;
    }
}
