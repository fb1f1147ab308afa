package dev.cvpt.model.seg;

import java.util.Locale;

/**
 * Where CVPT's cross-attention weights come from in segmentation. SHARED (default): the block's own
 * frozen self-attention qkv/proj, as the paper and the classification code (CVPT.py) do. STORED: frozen
 * tensors of their own under {@code backbone.layers.i.cross.{q,k,v,proj}.*}: what the released
 * segmentation code really trains with (nothing copies the self-attention into them, so they keep
 * nn.Linear's random default init); kept for reproduction and saved in the task file.
 */
public enum CrossWeights {
    SHARED, STORED;

    public String id() { return name().toLowerCase(Locale.ROOT); }

    public static CrossWeights parse(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "shared" -> SHARED;
            case "stored", "random" -> STORED;
            default -> throw new IllegalArgumentException("cross-attention weights: expected shared or stored, got '" + s + "'");
        };
    }
}
