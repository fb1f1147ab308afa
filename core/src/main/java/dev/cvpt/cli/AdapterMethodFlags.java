package dev.cvpt.cli;

import dev.cvpt.UserException;
import dev.cvpt.model.MethodSpec;
import dev.cvpt.train.LrSchedule;
import dev.cvpt.train.Recipe;
import dev.cvpt.train.WeightDecay;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The options of the adapter methods (lora, adapter, adaptformer, dyt), shared by train, suite and
 * bench: each flag becomes a named method option (recorded in run.json and the task file), and each
 * method brings its official recipe for the flags the command line leaves out.
 */
public final class AdapterMethodFlags {
    public static final Set<String> METHODS = Set.of("lora", "adapter", "adaptformer", "dyt");

    @Spec(Spec.Target.MIXEE) CommandSpec mixee;

    @Option(names = "--lora-rank", paramLabel = "R", description = "LoRA rank (default 8, NOAH's).") Integer loraRank;
    @Option(names = "--lora-targets", paramLabel = "qkv", description = "Which of q, k, v get a LoRA delta (default qkv, NOAH's; qv: the LoRA paper's).") String loraTargets;
    @Option(names = "--lora-scale", paramLabel = "S", description = "LoRA scale alpha/r (default 1, NOAH's).") Double loraScale;
    @Option(names = "--lora-init", paramLabel = "noah|lora", description = "noah: A, B ~ N(0,.02^2) (NOAH's effective init, default); lora: B = 0 (starts at the backbone).") String loraInit;
    @Option(names = "--lora-dropout", paramLabel = "P", description = "Dropout on LoRA's input (default 0.1).") Double loraDropout;
    @Option(names = "--adapter-dim", paramLabel = "D", description = "Bottleneck width of adapter / adaptformer / dyt (default 8 / 8 / 16).") Integer adapterDim;
    @Option(names = "--adapter-dropout", paramLabel = "P", description = "Dropout inside the adapter (default 0.1).") Double adapterDropout;
    @Option(names = "--adapter-init", paramLabel = "noah|xavier|zero-up", description = "NOAH adapter init (default noah, the effective official one).") String adapterInit;
    @Option(names = "--adaptformer-scale", paramLabel = "S|learnable", description = "AdaptFormer branch scale (default 0.1).") String adaptformerScale;
    @Option(names = "--adaptformer-layernorm", paramLabel = "none|in|out", description = "LayerNorm on the branch input or output (default none).") String adaptformerLayernorm;
    @Option(names = "--adaptformer-option", paramLabel = "parallel|sequential", description = "Branch beside (default) or after the MLP.") String adaptformerOption;
    @Option(names = "--dyt-rate", paramLabel = "R", description = "DyT target gate rate (default 0.5).") Double dytRate;
    @Option(names = "--dyt-rate-weight", paramLabel = "W", description = "Weight of DyT's rate loss (default 2).") Double dytRateWeight;
    @Option(names = "--dyt-tau", paramLabel = "T", description = "Gumbel temperature (default 5).") Double dytTau;
    @Option(names = "--dyt-no-distill", description = "DyT without the teacher and distillation terms (the arXiv-v1 loss).") boolean dytNoDistill;
    @Option(names = "--dyt-norm", paramLabel = "inception|imagenet", description = "DyT's input normalisation: mean/std 0.5 (inception, the official, default) or ImageNet's.") String dytNorm;

    public static boolean handles(String method) { return method != null && METHODS.contains(method.toLowerCase(java.util.Locale.ROOT)); }

    /** The spec with this command line's method options; a flag of another method is an error naming it. */
    public MethodSpec apply(MethodSpec spec) {
        String m = spec.method();
        Map<String, Object[]> flags = new LinkedHashMap<>();   // option name → value, methods it applies to
        flags.put("lora-rank", new Object[]{loraRank, "lora"});
        flags.put("lora-targets", new Object[]{loraTargets, "lora"});
        flags.put("lora-scale", new Object[]{loraScale, "lora"});
        flags.put("lora-init", new Object[]{loraInit, "lora"});
        flags.put("lora-dropout", new Object[]{loraDropout, "lora"});
        flags.put("adapter-dim", new Object[]{adapterDim, "adapter", "adaptformer", "dyt"});
        flags.put("adapter-dropout", new Object[]{adapterDropout, "adapter", "adaptformer", "dyt"});
        flags.put("adapter-init", new Object[]{adapterInit, "adapter"});
        Object scale = adaptformerScale;
        if (adaptformerScale != null && !adaptformerScale.equals("learnable")) {
            try {
                scale = Double.parseDouble(adaptformerScale);
            } catch (NumberFormatException e) {
                throw new UserException("--adaptformer-scale must be a number or 'learnable', got '" + adaptformerScale + "'");
            }
        }
        flags.put("adaptformer-scale", new Object[]{scale, "adaptformer"});
        flags.put("adaptformer-layernorm", new Object[]{adaptformerLayernorm, "adaptformer"});
        flags.put("adaptformer-option", new Object[]{adaptformerOption, "adaptformer"});
        flags.put("dyt-rate", new Object[]{dytRate, "dyt"});
        flags.put("dyt-rate-weight", new Object[]{dytRateWeight, "dyt"});
        flags.put("dyt-tau", new Object[]{dytTau, "dyt"});
        flags.put("dyt-distill", new Object[]{dytNoDistill ? Boolean.FALSE : null, "dyt"});
        flags.put("dyt-norm", new Object[]{dytNorm, "dyt"});
        MethodSpec out = spec;
        for (var e : flags.entrySet()) {
            Object[] v = e.getValue();
            if (v[0] == null) continue;
            boolean applies = false;
            for (int i = 1; i < v.length; i++) applies |= v[i].equals(m);
            String flag = e.getKey().equals("dyt-distill") ? "--dyt-no-distill" : "--" + e.getKey();
            if (!applies) throw new UserException(flag + " does not apply to --method " + m);
            out = out.withOption(e.getKey(), v[0]);
        }
        validate(out);
        return out;
    }

    /** Checks the options of an adapter method now (bad values: a one-line error naming the flag). */
    public static void validate(MethodSpec spec) {
        if (!handles(spec.method())) return;
        try (org.bytedeco.javacpp.PointerScope s = new org.bytedeco.javacpp.PointerScope()) {
            dev.cvpt.model.VitConfig tiny = new dev.cvpt.model.VitConfig(4, 1, 1, 1, 1, 4);
            dev.cvpt.model.Backbones.methodFor(tiny, spec);
        } catch (IllegalArgumentException e) {
            throw new UserException(e.getMessage());
        }
    }

    /**
     * The method's official recipe for the settings the command line leaves out (flags --batch,
     * --wd, --drop-path, --lr, --warmup): NOAH's for lora and adapter (AdamW 1e-3, weight decay
     * 1e-4 on ndim ≥ 2 non-bias tensors, batch 64, timm cosine per epoch), the Convpass VTAB one
     * for adaptformer (decay on every trainable), DyT's (AdamW 1e-3 / 1e-4 on everything, batch 64,
     * per-iteration warmup from 0 and cosine to 1e-5, no drop-path). Other methods: unchanged.
     */
    public Recipe recipe(String method, Recipe r) {
        if (!handles(method)) return r;
        String m = method.toLowerCase(java.util.Locale.ROOT);
        int batch = given("--batch") ? r.batch() : 64;
        double wd = given("--wd") ? r.weightDecay() : 1e-4;
        double lr = given("--lr") ? r.lr() : 1e-3;
        double dropPath = given("--drop-path") ? r.dropPath() : m.equals("dyt") ? 0.0 : 0.1;
        Recipe.Optim optim = switch (m) {
            case "lora", "adapter" -> new Recipe.Optim("adamw", 0.9, WeightDecay.NO_BIAS_1D, -1, LrSchedule.CVPT);
            case "adaptformer" -> new Recipe.Optim("adamw", 0.9, WeightDecay.ALL, -1, LrSchedule.CVPT);
            default -> new Recipe.Optim("adamw", 0.9, WeightDecay.ALL, -1, LrSchedule.DYT);
        };
        return new Recipe(r.epochs(), batch, lr, wd, r.warmupEpochs(), dropPath, r.promptDropout(), r.seed(), r.evalEvery(), optim);
    }

    private boolean given(String flag) {
        return mixee != null && mixee.commandLine() != null && mixee.commandLine().getParseResult() != null
                && mixee.commandLine().getParseResult().hasMatchedOption(flag);
    }
}
