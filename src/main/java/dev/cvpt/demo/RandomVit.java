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

    public static Map<String, HostTensor> init(VitConfig cfg, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        Map<String, HostTensor> out = new LinkedHashMap<>();
        for (var e : Backbones.expectedShapes(cfg).entrySet()) {
            String n = e.getKey();
            long[] shape = e.getValue();
            float[] v = new float[Math.toIntExact(HostTensor.numel(shape))];
            boolean norm = n.startsWith("norm.") || n.contains(".norm1.") || n.contains(".norm2.");
            if (norm && n.endsWith(".weight")) java.util.Arrays.fill(v, 1f);
            else if (!(n.endsWith(".bias"))) for (int i = 0; i < v.length; i++) v[i] = truncNormal(rng, 0.02);
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
