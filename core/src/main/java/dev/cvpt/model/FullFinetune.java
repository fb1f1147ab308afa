package dev.cvpt.model;

import org.bytedeco.pytorch.Tensor;

import java.util.Map;

/** Full fine-tuning: every backbone tensor and the head train. */
public record FullFinetune() implements TuningMethod {
    @Override public String name() { return "full"; }

    @Override public Map<String, Tensor> parameters() { return Map.of(); }

    @Override public boolean trainsBackbone() { return true; }
}
