package dev.cvpt.train.seg;

/**
 * The segmentation training recipe (official CVPT ADE20K config.py: {@link #official}).
 *
 * @param iters       iterations (160000)
 * @param batch       crops per iteration: the global batch (16 = 8 GPUs × 2); BN statistics are over all of it
 * @param lr          base lr (1e-3): backbone.Prompt_Tokens (and the backbone for full fine-tuning)
 * @param headLrMult  lr multiplier for every tensor whose name contains "head" (10)
 * @param momentum    SGD momentum (0.9); dampening 0, no nesterov
 * @param weightDecay SGD weight decay (0)
 * @param power       poly power (0.9)
 * @param minLr       poly floor, absolute (1e-4)
 * @param evalEvery   evaluate (slide inference + mIoU on the validation split) every N iterations (16000)
 * @param saveEvery   save the training state every N iterations (16000 officially; also at each evaluation)
 * @param seed        torch and data seed (the official run is unseeded)
 * @param crop        training crop and slide window (512)
 * @param stride      slide stride (341)
 * @param scaleLong   Resize img_scale long side (2048)
 * @param scaleShort  Resize img_scale short side (512)
 */
public record SegRecipe(int iters, int batch, double lr, double headLrMult, double momentum, double weightDecay, double power,
                        double minLr, int evalEvery, int saveEvery, long seed, int crop, int stride, int scaleLong, int scaleShort) {
    public SegRecipe {
        if (iters < 1 || batch < 1 || evalEvery < 1 || saveEvery < 1 || crop < 1 || stride < 1 || scaleLong < 1 || scaleShort < 1)
            throw new IllegalArgumentException("iterations, batch, eval/save intervals, crop, stride and scale must be positive");
        if (!(lr > 0) || !(headLrMult > 0) || momentum < 0 || weightDecay < 0 || minLr < 0)
            throw new IllegalArgumentException("lr and head lr multiplier must be positive; momentum, weight decay, min lr not negative");
    }

    public static SegRecipe official() {
        return new SegRecipe(160000, 16, 1e-3, 10, 0.9, 0, 0.9, 1e-4, 16000, 16000, 0, 512, 341, 2048, 512);
    }
}
