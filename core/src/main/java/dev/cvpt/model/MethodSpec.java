package dev.cvpt.model;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * What to build: the tuning method and its settings.
 *
 * @param method        cvpt, vpt, linear or full
 * @param insert        CVPT insert position 1..5
 * @param prompts       prompt tokens per set
 * @param deep          one prompt set per block (true) or one shared set (false)
 * @param promptDropout prompt dropout in training
 * @param options       the method's own named options (kebab-case flag names without "--", values
 *                      Integer, Double, Boolean or String), in flag order; recorded in run.json and
 *                      the task file as the JSON object {@code options}. Each method validates its own.
 */
public record MethodSpec(String method, int insert, int prompts, boolean deep, double promptDropout,
                         Map<String, Object> options) {
    public MethodSpec {
        method = method.toLowerCase(Locale.ROOT);
        switch (method) {
            case "cvpt", "vpt", "linear", "full" -> { }
            case "vfpt", "e2vpt", "spt" -> { }   // prompt methods of the related work (their own files)
            case "lora", "adapter", "adaptformer", "dyt" -> { }   // adapter methods (their own files)
            default -> throw new IllegalArgumentException("unknown method '" + method + "' (cvpt, vpt, linear, full, vfpt, e2vpt, spt, lora, adapter, adaptformer, dyt)");
        }
        if (method.equals("cvpt") && (insert < 1 || insert > 5))
            throw new IllegalArgumentException("insert must be 1..5, got " + insert);
        if (method.matches("cvpt|vpt|vfpt|e2vpt|spt") && prompts < 1) throw new IllegalArgumentException("prompts must be at least 1, got " + prompts);
        if (promptDropout < 0 || promptDropout >= 1) throw new IllegalArgumentException("prompt dropout must be in [0,1)");
        options = options == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(options));
        switch (method) {   // each method checks its own options (CLI, run.json and task files alike)
            case "vfpt" -> Vfpt.check(prompts, options);
            case "e2vpt" -> E2vpt.check(prompts, options);
            default -> { }
        }
        if (options.containsKey("prompt-init")) Prototypes.checkName(String.valueOf(options.get("prompt-init")));
    }

    public MethodSpec(String method, int insert, int prompts, boolean deep, double promptDropout) {
        this(method, insert, prompts, deep, promptDropout, Map.of());
    }

    public static MethodSpec cvpt(int insert, int prompts) { return new MethodSpec("cvpt", insert, prompts, true, 0.1); }

    public boolean usesPrompts() { return method.matches("cvpt|vpt|vfpt|e2vpt|spt"); }

    /** This spec with {@code name} set to {@code value} (added after the existing options). */
    public MethodSpec withOption(String name, Object value) {
        Map<String, Object> o = new LinkedHashMap<>(options);
        o.put(name, value);
        return new MethodSpec(method, insert, prompts, deep, promptDropout, o);
    }

    public int intOption(String name, int fallback) {
        Object v = options.get(name);
        return v instanceof Number n ? n.intValue() : fallback;
    }

    public double doubleOption(String name, double fallback) {
        Object v = options.get(name);
        return v instanceof Number n ? n.doubleValue() : fallback;
    }

    public boolean booleanOption(String name, boolean fallback) {
        Object v = options.get(name);
        return v instanceof Boolean b ? b : fallback;
    }

    public String stringOption(String name, String fallback) {
        Object v = options.get(name);
        return v == null ? fallback : v.toString();
    }
}
