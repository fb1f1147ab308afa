package dev.cvpt.model;

/**
 * Shape of a ViT backbone, read from its checkpoint.
 *
 * @param dim       token width C
 * @param depth     number of blocks L
 * @param heads     attention heads (not recoverable from timm weights alone; see {@link Backbones})
 * @param patch     patch size p
 * @param img       image size (square), (img/patch)^2 patches
 * @param mlpHidden hidden width of the MLP (4C in ViT-B)
 */
public record VitConfig(int dim, int depth, int heads, int patch, int img, int mlpHidden) {
    public static final double LAYER_NORM_EPS = 1e-6;

    public VitConfig {
        if (dim <= 0 || depth <= 0 || heads <= 0 || patch <= 0 || img <= 0 || mlpHidden <= 0)
            throw new IllegalArgumentException("bad ViT dims " + dim + "/" + depth + "/" + heads + "/" + patch + "/" + img);
        if (dim % heads != 0) throw new IllegalArgumentException("dim " + dim + " is not divisible by heads " + heads);
    }

    public int headDim() { return dim / heads; }

    public int patches() { return (img / patch) * (img / patch); }

    /** Tokens entering the blocks: cls + patches. */
    public int tokens() { return 1 + patches(); }
}
