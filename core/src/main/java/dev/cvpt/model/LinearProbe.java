package dev.cvpt.model;

import org.bytedeco.pytorch.Tensor;

import java.util.Map;

/** Linear probe: only the head trains. */
public record LinearProbe() implements TuningMethod {
    @Override public String name() { return "linear"; }

    @Override public Map<String, Tensor> parameters() { return Map.of(); }
}
