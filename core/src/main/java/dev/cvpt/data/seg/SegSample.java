package dev.cvpt.data.seg;

/**
 * One sample out of a {@link SegPipeline}.
 *
 * @param index      the sample's index in its dataset
 * @param image      the network input: CHW float32, RGB, normalised (3·height·width values)
 * @param height     input height
 * @param width      input width
 * @param label      training samples: class ids per input pixel (height·width, 0..K−1, 255 = ignore,
 *                   after reduce_zero_label, padding = 255); test samples: null
 * @param oriHeight  the image's size as decoded (before any resize)
 * @param oriWidth   "
 * @param rawLabel   test samples: the raw annotation at the original size (uint8 as in the PNG, before
 *                   reduce_zero_label: what {@code SegMetrics.add} takes); training samples: null
 * @param flipped    training samples: whether the horizontal flip was drawn
 */
public record SegSample(int index, float[] image, int height, int width, short[] label,
                        int oriHeight, int oriWidth, byte[] rawLabel, boolean flipped) {
    public SegSample {
        if (image.length != 3 * height * width)
            throw new IllegalArgumentException("image has " + image.length + " values for 3x" + height + "x" + width);
        if (label != null && label.length != height * width)
            throw new IllegalArgumentException("label has " + label.length + " values for " + height + "x" + width);
        if (rawLabel != null && rawLabel.length != oriHeight * oriWidth)
            throw new IllegalArgumentException("raw label has " + rawLabel.length + " values for " + oriHeight + "x" + oriWidth);
    }

    /** The label as int64 (what the loss takes), or null for a test sample. */
    public long[] labelLongs() {
        if (label == null) return null;
        long[] o = new long[label.length];
        for (int i = 0; i < o.length; i++) o[i] = label[i];
        return o;
    }
}
