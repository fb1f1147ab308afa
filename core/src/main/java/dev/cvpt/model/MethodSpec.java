package dev.cvpt.model;

import java.util.Locale;

/**
 * What to build: the tuning method and its settings.
 *
 * @param method        cvpt, vpt, linear or full
 * @param insert        CVPT insert position 1..5
 * @param prompts       prompt tokens per set
 * @param deep          one prompt set per block (true) or one shared set (false)
 * @param promptDropout prompt dropout in training
 */
public record MethodSpec(String method, int insert, int prompts, boolean deep, double promptDropout) {
    public MethodSpec {
        method = method.toLowerCase(Locale.ROOT);
        switch (method) {
            case "cvpt", "vpt", "linear", "full" -> { }
            default -> throw new IllegalArgumentException("unknown method '" + method + "' (cvpt, vpt, linear, full)");
        }
        if (method.equals("cvpt") && (insert < 1 || insert > 5))
            throw new IllegalArgumentException("insert must be 1..5, got " + insert);
        if ((method.equals("cvpt") || method.equals("vpt")) && prompts < 1) throw new IllegalArgumentException("prompts must be at least 1, got " + prompts);
        if (promptDropout < 0 || promptDropout >= 1) throw new IllegalArgumentException("prompt dropout must be in [0,1)");
    }

    public static MethodSpec cvpt(int insert, int prompts) { return new MethodSpec("cvpt", insert, prompts, true, 0.1); }

    public boolean usesPrompts() { return method.equals("cvpt") || method.equals("vpt"); }
}
