package dev.cvpt.data.seg;

/**
 * The train and test pipelines' parameters (mmseg config {@code train_pipeline} / {@code test_pipeline}).
 *
 * @param scaleLong      Resize img_scale, long side (ADE20K: 2048)
 * @param scaleShort     Resize img_scale, short side (ADE20K: 512); the test resize uses the same scale
 * @param ratioMin       train Resize ratio_range low (0.5)
 * @param ratioMax       train Resize ratio_range high (2.0), exclusive
 * @param cropHeight     RandomCrop crop_size (512, 512)
 * @param cropWidth      "
 * @param catMaxRatio    RandomCrop cat_max_ratio (0.75); 1 or more turns the redraws off
 * @param cropRedraws    redraws when the category rule fails (10, fixed in mmseg)
 * @param flipProb       RandomFlip prob (0.5)
 * @param photometric    PhotoMetricDistortion on/off (on)
 * @param normalize      mean/std (ImageNet, to_rgb)
 * @param padValue       Pad pad_val for the image, AFTER Normalize (0)
 * @param segPadValue    Pad seg_pad_val (255)
 */
public record SegPipelineConfig(int scaleLong, int scaleShort, double ratioMin, double ratioMax, int cropHeight,
                                int cropWidth, double catMaxRatio, int cropRedraws, double flipProb, boolean photometric,
                                Normalize normalize, float padValue, int segPadValue) {
    public SegPipelineConfig {
        if (scaleLong <= 0 || scaleShort <= 0 || cropHeight <= 0 || cropWidth <= 0)
            throw new IllegalArgumentException("scale and crop must be positive");
        if (!(ratioMin > 0 && ratioMin <= ratioMax)) throw new IllegalArgumentException("ratio range " + ratioMin + ".." + ratioMax);
        if (segPadValue < 0 || segPadValue > 255) throw new IllegalArgumentException("seg pad value " + segPadValue);
    }

    /** The official ADE20K values (CVPT's config.py, lines 82-120). */
    public static SegPipelineConfig ade20k() {
        return new SegPipelineConfig(2048, 512, 0.5, 2.0, 512, 512, 0.75, 10, 0.5, true, Normalize.IMAGENET, 0f, 255);
    }

    /**
     * The same recipe scaled to a {@code crop}-pixel model (the synthetic task with the demo backbone):
     * img_scale (4·crop, crop), crop crop×crop; everything else as ADE20K.
     */
    public static SegPipelineConfig synthetic(int crop) {
        return new SegPipelineConfig(4 * crop, crop, 0.5, 2.0, crop, crop, 0.75, 10, 0.5, true, Normalize.IMAGENET, 0f, 255);
    }

    public SegPipelineConfig withPhotometric(boolean on) {
        return new SegPipelineConfig(scaleLong, scaleShort, ratioMin, ratioMax, cropHeight, cropWidth, catMaxRatio, cropRedraws,
                flipProb, on, normalize, padValue, segPadValue);
    }

    public SegPipelineConfig withScale(int longSide, int shortSide) {
        return new SegPipelineConfig(longSide, shortSide, ratioMin, ratioMax, cropHeight, cropWidth, catMaxRatio, cropRedraws,
                flipProb, photometric, normalize, padValue, segPadValue);
    }

    public SegPipelineConfig withCrop(int h, int w) {
        return new SegPipelineConfig(scaleLong, scaleShort, ratioMin, ratioMax, h, w, catMaxRatio, cropRedraws,
                flipProb, photometric, normalize, padValue, segPadValue);
    }
}
