package dev.cvpt.model.seg;

import dev.cvpt.engine.Tensors;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.cvpt.engine.Tensors.opt;
import static dev.cvpt.engine.Tensors.scalar;
import static org.bytedeco.pytorch.global.torch.batch_norm;
import static org.bytedeco.pytorch.global.torch.conv2d;
import static org.bytedeco.pytorch.global.torch.layer_norm;
import static org.bytedeco.pytorch.global.torch.ones;
import static org.bytedeco.pytorch.global.torch.rand;
import static org.bytedeco.pytorch.global.torch.randn;
import static org.bytedeco.pytorch.global.torch.relu;
import static org.bytedeco.pytorch.global.torch.zeros;

/**
 * mmseg v0.15 SETRUPHead under its official names ({@code prefix} = {@code decode_head.} or
 * {@code auxiliary_head.j.}): {@code norm} LayerNorm(C, eps 1e-6) per pixel over channels →
 * {@code up_convs.k.0.conv} (k×k, no bias) → {@code up_convs.k.0.bn} BatchNorm2d (eps 1e-5, momentum 0.1;
 * batch statistics over the whole batch in training, running mean/var updated with the unbiased variance,
 * num_batches_tracked + 1; running statistics in eval) → ReLU → bilinear ×up_scale → {@code conv_seg} 1×1.
 */
public final class SetrUpHead {
    public static final double BN_EPS = 1e-5, BN_MOMENTUM = 0.1, LN_EPS = 1e-6;

    private final String prefix;
    private final HeadSpec spec;
    private final Map<String, Tensor> params = new LinkedHashMap<>();    // trainable, official names
    private final Map<String, Tensor> buffers = new LinkedHashMap<>();   // BN running stats + num_batches_tracked

    /**
     * A head with the official init: LN 1/0; conv kaiming_normal (fan_out, relu); BN 1/0, running 0/1;
     * decode conv_seg N(0, 0.01)/0; auxiliary conv_seg PyTorch's default (U(±1/√fan_in) weight and bias: the
     * aux heads sit in a plain nn.ModuleList, so mmcv never runs their init_cfg). Draws from torch's default generator.
     */
    public SetrUpHead(String prefix, HeadSpec spec, int inChannels, int numClasses, boolean auxiliary) {
        this.prefix = prefix;
        this.spec = spec;
        int ch = spec.channels(), k = spec.kernel();
        double fanIn = ch;
        if (auxiliary) {
            double bound = 1 / Math.sqrt(fanIn);
            params.put(prefix + "conv_seg.weight", uniform(bound, numClasses, ch, 1, 1));
            params.put(prefix + "conv_seg.bias", uniform(bound, numClasses));
        } else {
            params.put(prefix + "conv_seg.weight", randn(new long[]{numClasses, ch, 1, 1}).mul(scalar(0.01)));
            params.put(prefix + "conv_seg.bias", zeros(numClasses));
        }
        params.put(prefix + "norm.weight", ones(inChannels));
        params.put(prefix + "norm.bias", zeros(inChannels));
        for (int i = 0; i < spec.numConvs(); i++) {
            String c = prefix + "up_convs." + i + ".0.";
            int cin = i == 0 ? inChannels : ch;
            params.put(c + "conv.weight", randn(new long[]{ch, cin, k, k}).mul(scalar(Math.sqrt(2.0 / ((double) ch * k * k)))));
            params.put(c + "bn.weight", ones(ch));
            params.put(c + "bn.bias", zeros(ch));
            buffers.put(c + "bn.running_mean", zeros(ch));
            buffers.put(c + "bn.running_var", ones(ch));
            buffers.put(c + "bn.num_batches_tracked", Tensors.fromLongs(new long[]{0}));
        }
    }

    private static Tensor uniform(double bound, long... shape) {
        return rand(shape).mul(scalar(2)).sub(scalar(1)).mul(scalar(bound));
    }

    public String prefix() { return prefix; }

    public HeadSpec spec() { return spec; }

    public Map<String, Tensor> parameters() { return params; }

    public Map<String, Tensor> buffers() { return buffers; }

    /** Logits [B, K, h·s^n, w·s^n] from the backbone outputs; {@code bnTrain}: batch statistics (and update running ones). */
    public Tensor forward(List<Tensor> feats, boolean bnTrain) {
        Tensor x = feats.get(spec.inIndex());
        long n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
        x = layer_norm(x.reshape(n, c, h * w).transpose(2, 1), new long[]{c}, opt(params.get(prefix + "norm.weight")),
                opt(params.get(prefix + "norm.bias")), LN_EPS, false).transpose(1, 2).reshape(n, c, h, w);
        int k = spec.kernel(), pad = (k - 1) / 2;
        for (int i = 0; i < spec.numConvs(); i++) {
            String p = prefix + "up_convs." + i + ".0.";
            x = conv2d(x, params.get(p + "conv.weight"), opt(null), new long[]{1, 1}, new long[]{pad, pad}, new long[]{1, 1}, 1);
            x = batch_norm(x, opt(params.get(p + "bn.weight")), opt(params.get(p + "bn.bias")),
                    opt(buffers.get(p + "bn.running_mean")), opt(buffers.get(p + "bn.running_var")), bnTrain, BN_MOMENTUM, BN_EPS, false);
            if (bnTrain) {
                try (NoGradGuard g = new NoGradGuard()) {
                    buffers.get(p + "bn.num_batches_tracked").add_(new org.bytedeco.pytorch.Scalar(1L));
                }
            }
            x = SegOps.upsample(relu(x), spec.upScale());
        }
        return conv2d(x, params.get(prefix + "conv_seg.weight"), opt(params.get(prefix + "conv_seg.bias")),
                new long[]{1, 1}, new long[]{0, 0}, new long[]{1, 1}, 1);
    }
}
