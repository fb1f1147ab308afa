package dev.cvpt.model.seg;

import org.bytedeco.pytorch.Tensor;

import java.util.Map;

/** The heads alone train on the frozen backbone (the segmentation "linear probe"). */
public record SegHeadOnly() implements SegMethod {
    @Override public String name() { return "head"; }

    @Override public Map<String, Tensor> parameters() { return Map.of(); }
}
