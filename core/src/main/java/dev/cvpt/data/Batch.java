package dev.cvpt.data;

/**
 * One batch: {@code images} is float32 [size, 3, H, W] (normalised), {@code labels} int64 [size];
 * {@code indices} are the dataset positions of the samples, in order.
 */
public record Batch(float[] images, long[] labels, int size, int imageSize, int[] indices) {
    public long[] imageShape() { return new long[]{size, 3, imageSize, imageSize}; }
}
