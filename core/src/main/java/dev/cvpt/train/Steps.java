package dev.cvpt.train;

import dev.cvpt.engine.DataParallel;
import dev.cvpt.engine.Linear;
import dev.cvpt.engine.Tensors;
import dev.cvpt.model.VisionTransformer;
import dev.cvpt.model.VitConfig;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.util.List;

import static dev.cvpt.engine.Tensors.scalar;

/** One training step's forward and backward, and batched prediction, split over the cores by {@link DataParallel}. */
public final class Steps {
    private Steps() {}

    /** The batch's mean cross-entropy and each sample's predicted class (argmax of the logits). */
    public record Result(double loss, long[] predictions) {}

    private record Part(double loss, long[] pred) {}

    /**
     * Forward in training mode, cross-entropy (mean over the whole batch) and backward: the
     * trainables' {@code .grad} receive the batch gradient (zero them first). No optimizer step.
     */
    public static Result forwardBackward(DataParallel dp, VisionTransformer vit, Tensor images, Tensor labels) {
        long b = images.size(0), micro = microBatch(vit, true);
        List<Part> parts = dp.map(b, true, (c, start, len) -> {
            double loss = 0;
            long[] pred = new long[(int) len];
            // each core's share in micro-batches of near-equal size: gradients accumulate in .grad, the values are the same
            long pieces = (len + micro - 1) / micro;
            for (long piece = 0, at = 0; piece < pieces; piece++) {
                long n = len / pieces + (piece < len % pieces ? 1 : 0);
                // gradHooks: frozen linears may send their input gradients through oneDNN (see Linear)
                try (PointerScope s = new PointerScope(); Linear.GradHooks hooks = Linear.gradHooks()) {
                    var objective = vit.method().trainingObjective(vit, DataParallel.rows(images, start + at, n),
                            DataParallel.rows(labels, start + at, n));   // by default CE of the training forward
                    Tensor logits = objective.logits(), l = objective.loss();
                    if (n != b) l = l.mul(scalar((double) n / b));
                    l.backward();
                    System.arraycopy(Tensors.toLongs(logits.detach().argmax(new LongOptional(1), false)), 0, pred, (int) at, (int) n);
                    loss += l.item_double();
                }
                at += n;
            }
            return new Part(loss, pred);
        });
        return combine(parts, b);
    }

    /**
     * At most this many samples per forward/backward on one core, and fewer where the largest
     * activation (tokens × max(MLP width, 3C) floats per sample) would pass {@link #MICRO_BATCH_BYTES}.
     * Allocations above glibc's 32 MiB mmap ceiling are fresh pages on every step (page faults,
     * zeroing), and activations saved for the backward scale with the micro-batch: ViT-B at 16 samples
     * per core peaked 1.2 GB higher and ran slower than at 8, ViT-Ti at 16 peaked at 0.9× the
     * baseline's RSS (measured, docs/PERFORMANCE.md). GEMMs of 8 × 197 rows still run at full speed.
     * Small models (under 256 KiB per sample, e.g. the 32-px demo backbone) are not split: their
     * activations are small and short GEMMs would only add overhead. Training under bf16 takes
     * {@link #MICRO_BATCH_SAMPLES_BF16}; inference keeps 8 in both (bf16 at 4 ran 2.71 vs 2.27 s per ViT-B batch).
     */
    static long microBatch(VisionTransformer vit, boolean training) {
        VitConfig cfg = vit.config();
        long perSample = (long) cfg.tokens() * Math.max(cfg.mlpHidden(), 3L * cfg.dim()) * Float.BYTES;
        long cap = perSample < (256L << 10) ? Long.MAX_VALUE
                : training && vit.precision() == dev.cvpt.engine.Precision.BF16 ? MICRO_BATCH_SAMPLES_BF16 : MICRO_BATCH_SAMPLES;
        return Math.max(1, Math.min(cap, MICRO_BATCH_BYTES / perSample));
    }

    static final long MICRO_BATCH_BYTES = 24L << 20;
    static final long MICRO_BATCH_SAMPLES = 8;
    /**
     * Under bf16, 4: ViT-B training at batch 32, 2 threads, same run: 4 samples 7.14 / 5.87 s per step
     * and 2716 / 2869 MiB peak, 8 samples 7.13 / 6.36 s and 5329 / 5358 MiB (16: 8.4–8.6 s). In fp32
     * 4 samples halved the peak too but ran up to 20 % slower (9.91 / 11.91 vs 9.86 / 9.84 s).
     */
    static final long MICRO_BATCH_SAMPLES_BF16 = 4;

    /** Eval-mode predictions (no dropout, no drop-path, no autograd). */
    public static long[] predict(DataParallel dp, VisionTransformer vit, Tensor images) {
        long b = images.size(0);
        long micro = microBatch(vit, false);
        List<Part> parts = dp.map(b, false, (c, start, len) -> {
            long[] pred = new long[(int) len];
            // in micro-batches as the training step (each row's logits do not depend on the others):
            // activations under glibc's 32 MiB mmap ceiling are reused instead of faulted in afresh
            for (long at = 0; at < len; at += micro) {
                long n = Math.min(micro, len - at);
                try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
                    Tensor logits = vit.forward(DataParallel.rows(images, start + at, n), false);
                    System.arraycopy(Tensors.toLongs(logits.argmax(new LongOptional(1), false)), 0, pred, (int) at, (int) n);
                }
            }
            return new Part(0, pred);
        });
        return combine(parts, b).predictions();
    }

    private static Result combine(List<Part> parts, long b) {
        long[] pred = new long[(int) b];
        double loss = 0;
        int at = 0;
        for (Part p : parts) {
            loss += p.loss();
            System.arraycopy(p.pred(), 0, pred, at, p.pred().length);
            at += p.pred().length;
        }
        return new Result(loss, pred);
    }
}
