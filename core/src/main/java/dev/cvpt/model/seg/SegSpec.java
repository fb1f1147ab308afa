package dev.cvpt.model.seg;

import java.util.List;
import java.util.Locale;

/**
 * What segmentation model to build (the official CVPT ADE20K configuration is {@link #official}).
 *
 * @param method        cvpt, vpt, head (head-only: the decode and auxiliary heads train) or full
 * @param prompts       prompt tokens per block (cvpt, vpt)
 * @param cross         CVPT cross-attention weights (shared, the default; stored = the released code's)
 * @param dropRate      the backbone's drop_rate in training (official 0.1: after the position embedding,
 *                      attention projection, both FFN dropouts, cross-attention projection)
 * @param promptDropout prompt dropout in training (official 0.1)
 * @param imgH          backbone img_size: the position-embedding grid is (imgH/p, imgW/p) (official 512)
 * @param outIndices    blocks whose outputs feed the heads (official 9,14,19,23 of 24)
 * @param numClasses    classes (ADE20K: 150)
 * @param decode        the PUP decode head (in_index = last output)
 * @param aux           the auxiliary heads
 */
public record SegSpec(String method, int prompts, CrossWeights cross, double dropRate, double promptDropout,
                      int imgH, int imgW, List<Integer> outIndices, int numClasses, HeadSpec decode, List<HeadSpec> aux) {
    public static final List<String> METHODS = List.of("cvpt", "vpt", "head", "full");

    public SegSpec {
        method = method.toLowerCase(Locale.ROOT);
        if (method.equals("linear")) method = "head";
        if (!METHODS.contains(method))
            throw new IllegalArgumentException("unknown segmentation method '" + method + "' (cvpt, vpt, head, full)");
        if (usesPrompts(method) && prompts < 1) throw new IllegalArgumentException("prompts must be at least 1, got " + prompts);
        if (dropRate < 0 || dropRate >= 1 || promptDropout < 0 || promptDropout >= 1)
            throw new IllegalArgumentException("dropout rates must be in [0,1)");
        if (numClasses < 1) throw new IllegalArgumentException("need at least one class, got " + numClasses);
        outIndices = List.copyOf(outIndices);
        aux = List.copyOf(aux);
        if (decode.inIndex() < 0 || decode.inIndex() >= outIndices.size())
            throw new IllegalArgumentException("decode head in_index " + decode.inIndex() + " outside the " + outIndices.size() + " outputs");
        for (HeadSpec h : aux)
            if (h.inIndex() < 0 || h.inIndex() >= outIndices.size())
                throw new IllegalArgumentException("auxiliary head in_index " + h.inIndex() + " outside the " + outIndices.size() + " outputs");
    }

    private static boolean usesPrompts(String m) { return m.equals("cvpt") || m.equals("vpt"); }

    public boolean usesPrompts() { return usesPrompts(method); }

    /**
     * The official configuration (config.py) for a backbone of {@code depth} blocks and patch {@code patch}:
     * crop 512, 10 prompts, drop 0.1, prompt drop 0.1, channels 256, PUP 4 convs ×2, 3 aux heads 2 convs ×4,
     * weight 0.4. For other depths and patch sizes: {@link #defaultOutIndices}, and the number of ×2 PUP convs
     * = log2(patch) and the aux up-scale √patch, so both still end at full resolution (same as official for /16).
     */
    public static SegSpec official(String method, int depth, int patch, int crop, int numClasses) {
        List<Integer> out = defaultOutIndices(depth);
        int n = out.size();
        int ups = Integer.numberOfTrailingZeros(Integer.highestOneBit(Math.max(2, patch)));
        int auxUp = Math.max(2, (int) Math.round(Math.sqrt(patch)));
        HeadSpec dec = new HeadSpec(n - 1, 256, ups, 2, 3, 1.0);
        List<HeadSpec> aux = new java.util.ArrayList<>();
        for (int j = 0; j < n - 1; j++) aux.add(new HeadSpec(j, 256, 2, auxUp, 3, 0.4));
        return new SegSpec(method, 10, CrossWeights.SHARED, 0.1, 0.1, crop, crop, out, numClasses, dec, aux);
    }

    /** (9,14,19,23) for 24 blocks; ceil(d·{10,15,20,24}/24) − 1 for d ≥ 8; the last min(4, d) blocks otherwise. */
    public static List<Integer> defaultOutIndices(int depth) {
        if (depth >= 8) {
            List<Integer> o = new java.util.ArrayList<>();
            for (int f : new int[]{10, 15, 20, 24}) o.add((int) Math.ceil(depth * f / 24.0) - 1);
            return o;
        }
        List<Integer> o = new java.util.ArrayList<>();
        for (int i = Math.max(0, depth - 4); i < depth; i++) o.add(i);
        return o;
    }

    public SegSpec withMethod(String m) {
        return new SegSpec(m, prompts, cross, dropRate, promptDropout, imgH, imgW, outIndices, numClasses, decode, aux);
    }

    public SegSpec withPrompts(int p) {
        return new SegSpec(method, p, cross, dropRate, promptDropout, imgH, imgW, outIndices, numClasses, decode, aux);
    }

    public SegSpec withCross(CrossWeights c) {
        return new SegSpec(method, prompts, c, dropRate, promptDropout, imgH, imgW, outIndices, numClasses, decode, aux);
    }

    public SegSpec withDropout(double drop, double promptDrop) {
        return new SegSpec(method, prompts, cross, drop, promptDrop, imgH, imgW, outIndices, numClasses, decode, aux);
    }

    public SegSpec withOutIndices(List<Integer> o) {
        int n = o.size();
        HeadSpec d = new HeadSpec(n - 1, decode.channels(), decode.numConvs(), decode.upScale(), decode.kernel(), decode.lossWeight());
        List<HeadSpec> a = new java.util.ArrayList<>();
        for (int j = 0; j < Math.min(aux.size(), n - 1); j++) {
            HeadSpec h = aux.get(j);
            a.add(new HeadSpec(j, h.channels(), h.numConvs(), h.upScale(), h.kernel(), h.lossWeight()));
        }
        return new SegSpec(method, prompts, cross, dropRate, promptDropout, imgH, imgW, o, numClasses, d, a);
    }

    public SegSpec withNumClasses(int k) {
        return new SegSpec(method, prompts, cross, dropRate, promptDropout, imgH, imgW, outIndices, k, decode, aux);
    }

    public SegSpec withChannels(int c) {
        HeadSpec d = new HeadSpec(decode.inIndex(), c, decode.numConvs(), decode.upScale(), decode.kernel(), decode.lossWeight());
        List<HeadSpec> a = aux.stream().map(h -> new HeadSpec(h.inIndex(), c, h.numConvs(), h.upScale(), h.kernel(), h.lossWeight())).toList();
        return new SegSpec(method, prompts, cross, dropRate, promptDropout, imgH, imgW, outIndices, numClasses, d, a);
    }
}
