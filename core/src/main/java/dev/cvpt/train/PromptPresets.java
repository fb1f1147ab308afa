package dev.cvpt.train;

import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Per-task settings the official repositories publish for the prompt methods of the related work
 * (ViT-B/16, VTAB-1k task ids as {@link dev.cvpt.data.VtabTask}, FGVC as {@link dev.cvpt.data.FgvcTask}).
 * <ul>
 * <li>VFPT: Fourier fraction α from the paper's appendix Tables S1–S4; the prompt count P is derived
 * from the tuned-parameter share (shared/docs/methods/vfpt.md §5: approximate, UNVERIFIED — the real
 * counts are in a Google sheet the README links).</li>
 * <li>E2VPT: visual prompts P and key-value prompts T from command.txt of ChengHan111/E2VPT
 * (shared/docs/methods/e2vpt.md, "Visual / KV prompt counts").</li>
 * </ul>
 * Learning rates and weight decays are not published by either (grid searches on val200).
 */
public final class PromptPresets {
    /** @param prompts P; @param fraction VFPT's α (null for E2VPT); @param kvPrompts E2VPT's T (null for VFPT) */
    public record Preset(int prompts, Double fraction, Integer kvPrompts) {}

    private static Preset v(int p, double a) { return new Preset(p, a, null); }

    private static Preset e(int p, int t) { return new Preset(p, null, t); }

    static final Map<String, Preset> VFPT = Map.ofEntries(
            Map.entry("cifar", v(10, 0.7)), Map.entry("caltech101", v(20, 0.5)), Map.entry("dtd", v(15, 0.3)),
            Map.entry("oxford_flowers102", v(2, 0.5)), Map.entry("oxford_iiit_pet", v(2, 0.5)), Map.entry("svhn", v(10, 0.2)),
            Map.entry("sun397", v(5, 0.5)), Map.entry("patch_camelyon", v(100, 1.0)), Map.entry("eurosat", v(10, 0.3)),
            Map.entry("resisc45", v(6, 1.0)), Map.entry("diabetic_retinopathy", v(2, 1.0)), Map.entry("clevr_count", v(50, 1.0)),
            Map.entry("clevr_dist", v(200, 1.0)), Map.entry("dmlab", v(10, 0.7)), Map.entry("kitti", v(66, 0.5)),
            Map.entry("dsprites_loc", v(10, 1.0)), Map.entry("dsprites_ori", v(50, 0.7)), Map.entry("smallnorb_azi", v(176, 1.0)),
            Map.entry("smallnorb_ele", v(200, 0.7)),
            Map.entry("cub", v(10, 0.5)), Map.entry("nabirds", v(50, 0.5)), Map.entry("oxfordflowers", v(5, 0.3)),
            Map.entry("stanforddogs", v(100, 0.5)), Map.entry("stanfordcars", v(200, 0.0)));

    static final Map<String, Preset> E2VPT = Map.ofEntries(
            Map.entry("cifar", e(5, 5)), Map.entry("caltech101", e(32, 5)), Map.entry("dtd", e(10, 5)),
            Map.entry("oxford_flowers102", e(1, 1)), Map.entry("oxford_iiit_pet", e(10, 5)), Map.entry("svhn", e(10, 5)),
            Map.entry("sun397", e(10, 5)), Map.entry("patch_camelyon", e(10, 10)), Map.entry("eurosat", e(10, 5)),
            Map.entry("resisc45", e(10, 5)), Map.entry("diabetic_retinopathy", e(10, 5)), Map.entry("clevr_count", e(10, 5)),
            Map.entry("clevr_dist", e(10, 5)), Map.entry("dmlab", e(10, 5)), Map.entry("kitti", e(10, 5)),
            Map.entry("dsprites_loc", e(5, 5)), Map.entry("dsprites_ori", e(5, 5)), Map.entry("smallnorb_azi", e(10, 5)),
            Map.entry("smallnorb_ele", e(10, 5)),
            Map.entry("cub", e(5, 5)), Map.entry("nabirds", e(5, 5)), Map.entry("oxfordflowers", e(5, 5)),
            Map.entry("stanforddogs", e(5, 5)), Map.entry("stanfordcars", e(5, 5)));

    private PromptPresets() {}

    /** The preset of a method (vfpt, e2vpt) for a task id (VTAB id or FGVC name, case and punctuation ignored for FGVC). */
    public static Optional<Preset> of(String method, String task) {
        Map<String, Preset> m = switch (method) {
            case "vfpt" -> VFPT;
            case "e2vpt" -> E2VPT;
            default -> Map.of();
        };
        String t = task.toLowerCase(Locale.ROOT);
        Preset p = m.get(t);
        if (p == null) p = m.get(t.replaceAll("[^a-z]", "").replaceFirst("^cub.*", "cub"));
        return Optional.ofNullable(p);
    }
}
