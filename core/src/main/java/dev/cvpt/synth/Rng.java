package dev.cvpt.synth;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/**
 * The random source of one image: a {@link SplittableRandom} seeded from (seed, task, split, index).
 * Every draw is derived from {@link SplittableRandom#nextLong()} alone (the SplitMix64 core), not from
 * its bounded / floating-point helpers, so the images cannot change when a JDK reimplements those.
 */
final class Rng {
    private final SplittableRandom r;

    Rng(long seed, String task, String split, int index) {
        long h = mix(seed ^ 0x5DEECE66DL);
        h = mix(h ^ fnv(task));
        h = mix(h ^ fnv(split));
        h = mix(h + index);
        r = new SplittableRandom(h);
    }

    /** Uniform in [0, 1), 53 random bits. */
    double next() { return (r.nextLong() >>> 11) * 0x1.0p-53; }

    double uniform(double lo, double hi) { return lo + (hi - lo) * next(); }

    /** Uniform in [0, n); n > 0. Multiply-shift on 31 bits: bias below 2^-31 * n, irrelevant here. */
    int nextInt(int n) { return (int) (((r.nextLong() >>> 33) * n) >>> 31); }

    /** Uniform integer in [lo, hi] (both inclusive). */
    int between(int lo, int hi) { return lo + nextInt(hi - lo + 1); }

    boolean chance(double p) { return next() < p; }

    /** Stafford's variant 13 of the SplitMix64 finaliser: spreads nearby seeds / indices apart. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** FNV-1a over UTF-8: a fixed, documented string hash (String.hashCode would do, but 32 bits only). */
    static long fnv(String s) {
        long h = 0xcbf29ce484222325L;
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) h = (h ^ (b & 0xff)) * 0x100000001b3L;
        return h;
    }
}
