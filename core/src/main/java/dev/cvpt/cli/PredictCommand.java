package dev.cvpt.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cvpt.data.ImageDecoder;
import dev.cvpt.engine.Native;
import dev.cvpt.serve.Batcher;
import dev.cvpt.serve.Metrics;
import dev.cvpt.serve.Predictor;
import dev.cvpt.train.TaskFile;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;

@Command(name = "predict", sortOptions = false, description = "Top-k labels with probabilities for each image.")
public final class PredictCommand implements Callable<Integer> {
    @Option(names = "--task", required = true, paramLabel = "FILE") Path task;
    @Option(names = "--checkpoint", paramLabel = "CKPT", description = "The backbone (default: the one recorded in the task file).") Path checkpoint;
    @Option(names = "--top", defaultValue = "5") int top;
    @Option(names = "--threads", defaultValue = "0") int threads;
    @Option(names = "--heads") Integer heads;
    @Option(names = "--max-batch", defaultValue = "32", description = "Images per forward (default: ${DEFAULT-VALUE}).") int maxBatch;
    @Option(names = "--json", description = "One JSON line per image: {image, predictions: [{label, index, probability}]}.") boolean json;
    @Parameters(paramLabel = "IMAGE", arity = "1..*") List<Path> images;
    @Mixin DebugOption debug;
    @Mixin PrecisionOption precisionOption;

    @Override
    public Integer call() throws Exception {
        precisionOption.apply();
        Native.configureThreads();
        if (maxBatch < 1) throw new dev.cvpt.UserException("--max-batch must be positive, got " + maxBatch);
        TaskFile tf = TaskFile.read(task);
        ObjectMapper om = new ObjectMapper();
        try (Predictor p = Predictor.load(Predictor.backboneOf(tf, checkpoint), heads == null ? OptionalInt.empty() : OptionalInt.of(heads))) {
            Predictor.Task t = p.addTask(task);
            // the library's batcher: images go through the same queue and forwards as in `cvpt serve`
            try (Batcher b = new Batcher(p, new Batcher.Options(maxBatch, 0, maxBatch, 0, true), new Metrics())) {
                List<Path> chunk = new java.util.ArrayList<>();
                List<float[]> inputs = new java.util.ArrayList<>();
                for (Path img : images) {
                    float[] x;
                    try {
                        x = t.input(ImageDecoder.decodeRgb(img));
                    } catch (RuntimeException e) {
                        flush(b, t, chunk, inputs, om);   // the images before a bad one are answered first
                        throw e;
                    }
                    chunk.add(img);
                    inputs.add(x);
                    if (chunk.size() == maxBatch) flush(b, t, chunk, inputs, om);
                }
                flush(b, t, chunk, inputs, om);
            }
        }
        return Main.OK;
    }

    private void flush(Batcher b, Predictor.Task t, List<Path> chunk, List<float[]> inputs, ObjectMapper om) throws Exception {
        if (chunk.isEmpty()) return;
        List<CompletableFuture<float[]>> out = b.submit(java.util.Collections.nCopies(chunk.size(), t.name()), inputs);
        for (int i = 0; i < chunk.size(); i++) print(chunk.get(i), out.get(i).join(), t, om);
        chunk.clear();
        inputs.clear();
    }

    private void print(Path image, float[] probabilities, Predictor.Task t, ObjectMapper om) throws Exception {
        List<Predictor.Prediction> top5 = t.top(probabilities, top);
        if (json) {
            Map<String, Object> line = new LinkedHashMap<>();
            line.put("image", image.toString());
            line.put("predictions", top5.stream().map(Predictor.Prediction::asMap).toList());
            System.out.println(om.writeValueAsString(line));
            return;
        }
        System.out.println(image);
        for (Predictor.Prediction pr : top5)
            System.out.printf(Locale.ROOT, "  %6.2f%%  %s%n", 100 * pr.probability(), pr.label());
    }
}
