package dev.cvpt.model.seg;

import org.bytedeco.pytorch.Tensor;

import java.util.Map;

/** Full fine-tuning: every backbone tensor trains with the heads (mmseg's SETR baseline). */
public record SegFull() implements SegMethod {
    @Override public String name() { return "full"; }

    @Override public Map<String, Tensor> parameters() { return Map.of(); }

    @Override public boolean trainsBackbone() { return true; }
}
