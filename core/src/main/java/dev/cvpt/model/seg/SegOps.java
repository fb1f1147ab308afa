package dev.cvpt.model.seg;

import dev.cvpt.engine.Rand;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.LongArrayRef;
import org.bytedeco.pytorch.Tensor;

import static dev.cvpt.engine.Tensors.scalar;
import static org.bytedeco.pytorch.global.torch.bernoulli;
import static org.bytedeco.pytorch.global.torch.full;
import static org.bytedeco.pytorch.global.torch.upsample_bilinear2d;

/** The few tensor operations of the segmentation model that the classifier does not have. */
public final class SegOps {
    private SegOps() {}

    /** torch's dropout (x·mask/(1−p), an independent mask per element) in training; identity otherwise. */
    public static Tensor dropout(Tensor x, double p, boolean on) {
        if (!on || p == 0) return x;
        if (!Rand.local()) return org.bytedeco.pytorch.global.torch.dropout(x, p, true);
        Tensor keep = bernoulli(full(x.shape(), scalar(1 - p)), Rand.generator());   // this thread's generator
        return x.mul(keep).div(scalar(1 - p));
    }

    /** F.interpolate(x, size=(h, w), mode='bilinear', align_corners=False); x itself when the size is already (h, w). */
    public static Tensor resize(Tensor x, long h, long w) {
        if (x.size(2) == h && x.size(3) == w) return x;
        return upsample(x, h, w, new DoubleOptional());
    }

    /** nn.Upsample(scale_factor=s, mode='bilinear', align_corners=False): size floor(in·s), source scale 1/s. */
    public static Tensor upsample(Tensor x, int s) {
        if (s == 1) return x;
        return upsample(x, x.size(2) * s, x.size(3) * s, new DoubleOptional(s));
    }

    private static Tensor upsample(Tensor x, long h, long w, DoubleOptional scale) {
        try (LongPointer size = new LongPointer(h, w)) {
            return upsample_bilinear2d(x, new LongArrayRef(size, 2), false, scale, scale);
        }
    }
}
