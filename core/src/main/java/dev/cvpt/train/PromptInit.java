package dev.cvpt.train;

import dev.cvpt.UserException;
import dev.cvpt.data.Dataset;
import dev.cvpt.data.ImageDecoder;
import dev.cvpt.data.Transforms;
import dev.cvpt.engine.Tensors;
import dev.cvpt.model.MethodSpec;
import dev.cvpt.model.Prototypes;
import dev.cvpt.model.VisionTransformer;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.util.Iterator;
import java.util.Random;
import java.util.function.Consumer;

import static org.bytedeco.pytorch.global.torch.randint;

/**
 * {@code --prompt-init}: fills the method's prompt tensor ({@link dev.cvpt.model.TuningMethod#prototypeTarget()})
 * with prototypes of the training tokens before the first epoch, as SPT's prompt_generator: {@code n}
 * training images drawn with replacement ({@code torch.randint(len, (n,))} on the default generator; n =
 * the training-set size unless {@code proto-images}), with the training transform, through the frozen,
 * unprompted model ({@link Prototypes}).
 */
public final class PromptInit {
    static final int CHUNK = 32;

    private PromptInit() {}

    /** Does nothing for {@code uniform} (or no prompt-init option) and for methods without prompts. */
    public static void apply(VisionTransformer vit, MethodSpec spec, Dataset train, Transforms.Transform transform, long seed,
                             Consumer<String> log) {
        String how = spec.stringOption("prompt-init", "uniform");
        Tensor target = vit.method().prototypeTarget();
        if (how.equals("uniform") || target == null) return;
        int n = spec.intOption("proto-images", train.size());
        if (n < 1) throw new UserException("--proto-images must be at least 1, got " + n);
        long[] idx = Tensors.toLongs(randint(train.size(), new long[]{n}));
        int size = transform.size();
        Iterable<Tensor> chunks = () -> new Iterator<>() {
            int at = 0;

            @Override public boolean hasNext() { return at < n; }

            @Override public Tensor next() {
                int b = Math.min(CHUNK, n - at);
                float[] x = new float[b * 3 * size * size];
                for (int j = 0; j < b; j++) {
                    var s = train.samples().get((int) idx[at + j]);
                    try {
                        byte[] chw = transform.apply(ImageDecoder.decodeRgb(s.path()), new Random(seed * 1_000_003L + at + j));
                        Transforms.toNormalizedFloats(chw, x, j * 3 * size * size);
                    } catch (RuntimeException e) {
                        throw new UserException("--prompt-init: cannot read training image " + s.path() + " (" + s.source() + "): " + e.getMessage());
                    }
                }
                at += b;
                return Tensors.fromFloats(x, b, 3, size, size);
            }
        };
        int kIters = spec.intOption("kmeans-iters", 10);
        try {
            Tensor init = Prototypes.compute(vit, chunks, n, how, (int) target.size(1), (int) target.size(0), null, kIters);
            try (NoGradGuard g = new NoGradGuard()) {
                target.copy_(init);
            }
        } catch (IllegalArgumentException e) {
            throw new UserException(e.getMessage());
        }
        log.accept("prompt init: " + how + " prototypes of " + n + " training images (drawn with replacement)");
    }

}
