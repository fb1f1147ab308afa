package dev.cvpt.demo;

import dev.cvpt.io.HostTensor;
import dev.cvpt.model.Backbones;
import dev.cvpt.model.VitConfig;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A freshly initialised ViT (timm's init: truncated normal std 0.02 for weights, cls token and
 * position embedding; zero biases; LayerNorm 1/0), under timm names. The starting point of the
 * demo backbone's pretraining. Deterministic given the seed.
 */
public final class RandomVit {
    private RandomVit() {}

    /** How weights are drawn. */
    public enum Init {
        /** timm: std 0.02 everywhere. */
        TIMM,
        /**
         * std fan_in^-1/2 (the PyTorch oracle's random checkpoints): the blocks mix the tokens strongly
         * from the start, which trains a small ViT faster from scratch on little data.
         */
        FAN_IN
    }

    public static Map<String, HostTensor> init(VitConfig cfg, long seed) { return init(cfg, seed, Init.TIMM); }

    public static Map<String, HostTensor> init(VitConfig cfg, long seed, Init init) {
        SplittableRandom rng = new SplittableRandom(seed);
        Map<String, HostTensor> out = new LinkedHashMap<>();
        for (var e : Backbones.expectedShapes(cfg).entrySet()) {
            String n = e.getKey();
            long[] shape = e.getValue();
            float[] v = new float[Math.toIntExact(HostTensor.numel(shape))];
            boolean norm = n.startsWith("norm.") || n.contains(".norm1.") || n.contains(".norm2.");
            long fanIn = shape.length >= 2 ? HostTensor.numel(shape) / shape[0] : 1;
            double std = switch (init) {
                case TIMM -> 0.02;
                case FAN_IN -> n.equals("cls_token") || n.equals("pos_embed") ? 0.1 : 1 / Math.sqrt(fanIn);
            };
            if (norm && n.endsWith(".weight")) java.util.Arrays.fill(v, 1f);
            else if (!(n.endsWith(".bias"))) for (int i = 0; i < v.length; i++) v[i] = truncNormal(rng, std);
            out.put(n, HostTensor.ofFloats(v, shape));
        }
        return out;
    }

    /** N(0, std) truncated to ±2 std (timm's trunc_normal_ bounds). */
    private static float truncNormal(SplittableRandom r, double std) {
        while (true) {
            // Box-Muller from two uniforms: SplittableRandom has no nextGaussian on Java 17
            double u = 1 - r.nextDouble(), w = r.nextDouble();
            double z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * w);
            if (Math.abs(z) <= 2) return (float) (z * std);
        }
    }
}
