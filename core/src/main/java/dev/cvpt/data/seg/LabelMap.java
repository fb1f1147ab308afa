package dev.cvpt.data.seg;

/**
 * An 8-bit label map (row-major, H·W): raw ids as read from the annotation PNG, or class ids after
 * reduce_zero_label (255 = ignore). Values are unsigned: read them with {@code & 0xff}.
 */
public record LabelMap(int width, int height, byte[] values) {
    public LabelMap {
        if (width <= 0 || height <= 0) throw new IllegalArgumentException("empty label map " + width + "x" + height);
        if (values.length != width * height) throw new IllegalArgumentException("need " + width * height + " values, got " + values.length);
    }

    public int get(int x, int y) { return values[y * width + x] & 0xff; }

    /**
     * mmseg's {@code LoadAnnotations(reduce_zero_label=True)} in uint8: 0 → 255, then −1, then 254 → 255
     * (raw 0 and 255 both end as 255 = ignore; raw k becomes class k−1).
     */
    public LabelMap reduceZeroLabel() {
        byte[] o = new byte[values.length];
        for (int i = 0; i < o.length; i++) {
            int v = values[i] & 0xff;
            v = v == 0 ? 255 : v;
            v = (v - 1) & 0xff;
            o[i] = (byte) (v == 254 ? 255 : v);
        }
        return new LabelMap(width, height, o);
    }
}
