package dev.cvpt.train;

import dev.cvpt.data.Batch;
import dev.cvpt.data.Loader;
import dev.cvpt.engine.DataParallel;
import dev.cvpt.engine.Tensors;
import dev.cvpt.model.VisionTransformer;
import org.bytedeco.javacpp.PointerScope;

/** Eval-mode top-1 accuracy over a loader (no dropout, no drop-path, no gradients). */
public final class Evaluator {
    private Evaluator() {}

    /** Top-1 and per-class counts. */
    public record Accuracy(long correct, long total, long[] classCorrect, long[] classTotal) {
        public double top1() { return total == 0 ? Double.NaN : 100.0 * correct / total; }

        public double classTop1(int c) { return classTotal[c] == 0 ? Double.NaN : 100.0 * classCorrect[c] / classTotal[c]; }
    }

    public static Accuracy evaluate(VisionTransformer vit, Loader loader) {
        try (DataParallel dp = new DataParallel(1)) {
            return evaluate(vit, loader, dp);
        }
    }

    /** The batches split over the cores of {@code dp}. */
    public static Accuracy evaluate(VisionTransformer vit, Loader loader, DataParallel dp) {
        int k = vit.numClasses();
        long[] cc = new long[k], ct = new long[k];
        long correct = 0, total = 0;
        try (var epoch = loader.epoch(0)) {
            for (Batch b : epoch) {
                long[] pred;
                try (PointerScope s = new PointerScope()) {
                    pred = Steps.predict(dp, vit, Tensors.fromFloats(b.images(), b.imageShape()));
                }
                for (int i = 0; i < b.size(); i++) {
                    int y = (int) b.labels()[i];
                    ct[y]++;
                    if (pred[i] == y) { cc[y]++; correct++; }
                    total++;
                }
            }
        }
        return new Accuracy(correct, total, cc, ct);
    }
}
