package dev.cvpt.model.seg;

/**
 * One SETR-UP head (mmseg v0.15 {@code SETRUPHead}): per-pixel LayerNorm of backbone output
 * {@code inIndex}, {@code numConvs} × [conv k×k (no bias) → BatchNorm → ReLU → bilinear ×upScale],
 * then {@code conv_seg} 1×1. The PUP decode head is 4 convs ×2; the official auxiliary heads 2 convs ×4.
 */
public record HeadSpec(int inIndex, int channels, int numConvs, int upScale, int kernel, double lossWeight) {
    public HeadSpec {
        if (kernel != 1 && kernel != 3) throw new IllegalArgumentException("head kernel must be 1 or 3, got " + kernel);
        if (numConvs < 1 || upScale < 1 || channels < 1) throw new IllegalArgumentException("bad head " + numConvs + "/" + upScale + "/" + channels);
    }
}
