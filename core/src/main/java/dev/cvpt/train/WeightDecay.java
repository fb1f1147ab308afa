package dev.cvpt.train;

import org.bytedeco.pytorch.Tensor;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Which parameters get weight decay, and how much, as the official repositories group them.
 * <ul>
 *   <li>{@code all}: {@code wd} on every trainable tensor (one param group: the official CVPT/VPT AdamW).</li>
 *   <li>{@code no-head-bias}: {@code wd} on all but {@code head.bias} (KMnP/vpt code base, used by VFPT and
 *       E2VPT: src/solver/optimizer.py, one group per tensor, the head's bias at 0).</li>
 *   <li>{@code no-bias-1d}: 0 for tensors with ndim ≤ 1 or a name ending in {@code .bias} (timm's
 *       param_groups_weight_decay; SPT utils.py L79-99), {@code headWd} for the other tensors whose
 *       name contains {@code head} (SPT's {@code --wd_head}; negative: same as {@code wd}), {@code wd} for the rest.</li>
 * </ul>
 *
 * @param rule  one of the rules above
 * @param wd    the weight decay
 * @param headWd the head's weight decay under {@code no-bias-1d} (negative: {@code wd})
 */
public record WeightDecay(String rule, double wd, double headWd) {
    public static final String ALL = "all", NO_HEAD_BIAS = "no-head-bias", NO_BIAS_1D = "no-bias-1d";

    public WeightDecay {
        rule = rule == null ? ALL : rule.toLowerCase(Locale.ROOT);
        if (!rule.equals(ALL) && !rule.equals(NO_HEAD_BIAS) && !rule.equals(NO_BIAS_1D))
            throw new IllegalArgumentException("unknown weight-decay rule '" + rule + "' (" + ALL + ", " + NO_HEAD_BIAS + ", " + NO_BIAS_1D + ")");
        if (wd < 0) throw new IllegalArgumentException("weight decay must be >= 0");
    }

    public static WeightDecay all(double wd) { return new WeightDecay(ALL, wd, -1); }

    /** The decay of one parameter. */
    public double of(String name, long ndim) {
        return switch (rule) {
            case ALL -> wd;
            case NO_HEAD_BIAS -> name.equals("head.bias") ? 0 : wd;
            case NO_BIAS_1D -> ndim <= 1 || name.endsWith(".bias") ? 0 : name.contains("head") && headWd >= 0 ? headWd : wd;
            default -> throw new IllegalStateException(rule);
        };
    }

    /** The decay of every parameter, by name. */
    public Map<String, Double> of(Map<String, Tensor> params) {
        Map<String, Double> out = new LinkedHashMap<>();
        params.forEach((n, t) -> out.put(n, of(n, t.dim())));
        return out;
    }
}
