package dev.cvpt.train;

import dev.cvpt.engine.DataParallel;
import dev.cvpt.engine.Tensors;
import dev.cvpt.model.VisionTransformer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.util.List;

import static dev.cvpt.engine.Tensors.scalar;
import static org.bytedeco.pytorch.global.torch.cross_entropy;

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
        long b = images.size(0);
        List<Part> parts = dp.map(b, true, (c, start, len) -> {
            try (PointerScope s = new PointerScope()) {
                Tensor logits = vit.forward(DataParallel.rows(images, start, len), true);
                Tensor loss = cross_entropy(logits, DataParallel.rows(labels, start, len));
                if (len != b) loss = loss.mul(scalar((double) len / b));
                loss.backward();
                long[] pred = Tensors.toLongs(logits.detach().argmax(new LongOptional(1), false));
                return new Part(loss.item_double(), pred);
            }
        });
        return combine(parts, b);
    }

    /** Eval-mode predictions (no dropout, no drop-path, no autograd). */
    public static long[] predict(DataParallel dp, VisionTransformer vit, Tensor images) {
        long b = images.size(0);
        List<Part> parts = dp.map(b, false, (c, start, len) -> {
            try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
                Tensor logits = vit.forward(DataParallel.rows(images, start, len), false);
                return new Part(0, Tensors.toLongs(logits.argmax(new LongOptional(1), false)));
            }
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
