package dev.cvpt.data.seg;

import java.util.random.RandomGenerator;

/**
 * mmseg v0.15's train and test pipelines for the ADE20K recipe (CVPT {@code config.py:82-120};
 * {@code mmseg/datasets/pipelines/transforms.py}), on {@link SegDataset} samples.
 *
 * <p>Train: LoadImage (BGR) + LoadAnnotations (reduce_zero_label) → Resize with a random ratio r ∈
 * [ratioMin, ratioMax) of the scale, keep-ratio ({@link Cv2Resize#rescaleSize}; image cv2 INTER_LINEAR,
 * label INTER_NEAREST) → RandomCrop with the category rule (at most {@code cropRedraws} redraws until
 * ≥ 2 non-ignored classes and the most frequent under {@code catMaxRatio}; after the last failed check the
 * next drawn window is used unchecked) → RandomFlip → PhotoMetricDistortion → Normalize → Pad
 * (bottom/right, image 0 after normalisation, label 255).
 *
 * <p>Randomness comes from the caller's generator, in mmseg's order of draws: ratio; crop offsets (y, x)
 * and redraws; flip; then brightness (coin, delta), mode, contrast (coin, α) if mode 1, saturation (coin,
 * α), hue (coin, delta), contrast if mode 0. Each draw has numpy's distribution (uniform doubles with 53
 * bits, uniform integers) but not numpy's stream: the same seed gives other samples than mmseg. Everything
 * between the draws is exact: resizes, crop, flip, the uint8 arithmetic of the distortion (float32
 * {@code x·α + β}, clip, truncation), cv2's HSV conversions ({@link Cv2Color}), Normalize, Pad.
 *
 * <p>Test: keep-ratio resize of the image to the scale (cv2 INTER_LINEAR), Normalize, no flip, no pad;
 * the sample keeps the raw annotation at the original size for the metrics.
 */
public final class SegPipeline {
    private final SegPipelineConfig cfg;

    public SegPipeline(SegPipelineConfig cfg) { this.cfg = cfg; }

    public SegPipelineConfig config() { return cfg; }

    /** A training sample of {@code ds[i]} with randomness from {@code rng}. */
    public SegSample train(SegDataset ds, int i, RandomGenerator rng) {
        return train(i, ds.loadImage(i), ds.loadLabel(i), rng);
    }

    /** The train pipeline on a decoded image and its training-form label (reduce_zero_label already applied). */
    public SegSample train(int index, BgrImage img, LabelMap label, RandomGenerator rng) {
        if (img.width() != label.width() || img.height() != label.height())
            throw new IllegalArgumentException("image " + img.width() + "x" + img.height() + " vs label " + label.width() + "x" + label.height());
        int oriW = img.width(), oriH = img.height();
        // Resize: random ratio of the scale, keep ratio
        double ratio = rng.nextDouble() * (cfg.ratioMax() - cfg.ratioMin()) + cfg.ratioMin();
        int sa = (int) (cfg.scaleLong() * ratio), sb = (int) (cfg.scaleShort() * ratio);
        Cv2Resize.Size size = Cv2Resize.rescaleSize(oriW, oriH, sa, sb);
        int w = Math.max(1, size.width()), h = Math.max(1, size.height());
        byte[] im = Cv2Resize.linear(img.bgr(), oriW, oriH, 3, w, h);
        byte[] lab = Cv2Resize.nearest(label.values(), oriW, oriH, 1, w, h);
        // RandomCrop with the category rule
        int[] box = cropBox(h, w, rng);
        if (cfg.catMaxRatio() < 1) {
            for (int t = 0; t < cfg.cropRedraws(); t++) {
                if (categoryOk(lab, w, box)) break;
                box = cropBox(h, w, rng);
            }
        }
        int cy1 = box[0], cy2 = Math.min(box[1], h), cx1 = box[2], cx2 = Math.min(box[3], w);
        int ch = cy2 - cy1, cw = cx2 - cx1;
        byte[] cim = new byte[ch * cw * 3], clab = new byte[ch * cw];
        for (int y = 0; y < ch; y++) {
            System.arraycopy(im, ((cy1 + y) * w + cx1) * 3, cim, y * cw * 3, cw * 3);
            System.arraycopy(lab, (cy1 + y) * w + cx1, clab, y * cw, cw);
        }
        // RandomFlip (horizontal)
        boolean flip = rng.nextDouble() < cfg.flipProb();
        if (flip) flipHorizontal(cim, clab, cw, ch);
        // PhotoMetricDistortion
        if (cfg.photometric()) photometric(cim, cw, rng);
        // Normalize, then Pad to the crop size (bottom / right)
        float[] norm = cfg.normalize().toChwRgb(cim, cw, ch);
        int ph = Math.max(ch, cfg.cropHeight()), pw = Math.max(cw, cfg.cropWidth());
        float[] out = new float[3 * ph * pw];
        short[] outLab = new short[ph * pw];
        java.util.Arrays.fill(out, cfg.padValue());
        java.util.Arrays.fill(outLab, (short) cfg.segPadValue());
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < ch; y++) System.arraycopy(norm, (c * ch + y) * cw, out, (c * ph + y) * pw, cw);
        for (int y = 0; y < ch; y++)
            for (int x = 0; x < cw; x++) outLab[y * pw + x] = (short) (clab[y * cw + x] & 0xff);
        return new SegSample(index, out, ph, pw, outLab, oriH, oriW, null, flip);
    }

    /** A test sample of {@code ds[i]}: resized, normalised image and the raw annotation at the original size. */
    public SegSample test(SegDataset ds, int i) {
        return test(i, ds.loadImage(i), ds.loadRawLabel(i));
    }

    /** The test pipeline on a decoded image; {@code rawLabel} may be null (prediction without ground truth). */
    public SegSample test(int index, BgrImage img, LabelMap rawLabel) {
        Cv2Resize.Size size = Cv2Resize.rescaleSize(img.width(), img.height(), cfg.scaleLong(), cfg.scaleShort());
        int w = Math.max(1, size.width()), h = Math.max(1, size.height());
        byte[] im = Cv2Resize.linear(img.bgr(), img.width(), img.height(), 3, w, h);
        return new SegSample(index, cfg.normalize().toChwRgb(im, w, h), h, w, null, img.height(), img.width(),
                rawLabel == null ? null : rawLabel.values().clone(), false);
    }

    // ---- pieces ----

    /** mmseg get_crop_bbox: {y1, y2, x1, x2} with offsets uniform in 0..max(size − crop, 0). */
    private int[] cropBox(int h, int w, RandomGenerator rng) {
        int mh = Math.max(h - cfg.cropHeight(), 0), mw = Math.max(w - cfg.cropWidth(), 0);
        int oy = rng.nextInt(mh + 1), ox = rng.nextInt(mw + 1);
        return new int[]{oy, oy + cfg.cropHeight(), ox, ox + cfg.cropWidth()};
    }

    /** At least 2 non-ignored classes in the window and the most frequent below catMaxRatio of them. */
    private boolean categoryOk(byte[] lab, int w, int[] box) {
        int[] cnt = new int[256];
        int y2 = Math.min(box[1], lab.length / w), x2 = Math.min(box[3], w);
        for (int y = box[0]; y < y2; y++)
            for (int x = box[2]; x < x2; x++) cnt[lab[y * w + x] & 0xff]++;
        long sum = 0;
        int max = 0, kinds = 0;
        for (int v = 0; v < 256; v++) {
            if (v == cfg.segPadValue() || cnt[v] == 0) continue;   // ignore_index (255)
            kinds++;
            sum += cnt[v];
            max = Math.max(max, cnt[v]);
        }
        return kinds > 1 && (double) max / sum < cfg.catMaxRatio();
    }

    static void flipHorizontal(byte[] im, byte[] lab, int w, int h) {
        for (int y = 0; y < h; y++)
            for (int x = 0, o = w - 1; x < o; x++, o--) {
                for (int c = 0; c < 3; c++) {
                    int a = (y * w + x) * 3 + c, b = (y * w + o) * 3 + c;
                    byte t = im[a];
                    im[a] = im[b];
                    im[b] = t;
                }
                byte t = lab[y * w + x];
                lab[y * w + x] = lab[y * w + o];
                lab[y * w + o] = t;
            }
    }

    /** mmseg PhotoMetricDistortion (brightness_delta 32, contrast 0.5..1.5, saturation 0.5..1.5, hue_delta 18). */
    static void photometric(byte[] bgr, int width, RandomGenerator rng) {
        if (rng.nextInt(2) == 1) convert(bgr, 0, 1, 1f, (float) uniform(rng, -32, 32));          // brightness
        int mode = rng.nextInt(2);
        if (mode == 1 && rng.nextInt(2) == 1) convert(bgr, 0, 1, (float) uniform(rng, 0.5, 1.5), 0f);   // contrast first
        if (rng.nextInt(2) == 1) {                                                                   // saturation
            float alpha = (float) uniform(rng, 0.5, 1.5);
            Cv2Color.bgr2hsv(bgr, bgr);
            convert(bgr, 1, 3, alpha, 0f);
            Cv2Color.hsv2bgr(bgr, bgr, width);
        }
        if (rng.nextInt(2) == 1) {                                                                   // hue
            int delta = -18 + rng.nextInt(36);                                                       // numpy randint(-18, 18)
            Cv2Color.bgr2hsv(bgr, bgr);
            for (int i = 0; i < bgr.length; i += 3) bgr[i] = (byte) Math.floorMod((bgr[i] & 0xff) + delta, 180);
            Cv2Color.hsv2bgr(bgr, bgr, width);
        }
        if (mode == 0 && rng.nextInt(2) == 1) convert(bgr, 0, 1, (float) uniform(rng, 0.5, 1.5), 0f);  // contrast last
    }

    private static double uniform(RandomGenerator rng, double lo, double hi) { return lo + (hi - lo) * rng.nextDouble(); }

    /**
     * mmseg {@code convert}: {@code img.astype(float32) * alpha + beta}, clip to [0, 255], astype uint8
     * (numpy float32 arithmetic, the Python scalars rounded to float32), on every {@code step}-th byte
     * from {@code from} (all channels: 0, 1; the S channel: 1, 3).
     */
    static void convert(byte[] a, int from, int step, float alpha, float beta) {
        for (int i = from; i < a.length; i += step) {
            float v = (a[i] & 0xff) * alpha + beta;
            v = v < 0 ? 0 : Math.min(v, 255f);
            a[i] = (byte) (int) v;
        }
    }
}
