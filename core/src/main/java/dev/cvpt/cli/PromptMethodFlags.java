package dev.cvpt.cli;

import dev.cvpt.UserException;
import dev.cvpt.model.MethodSpec;
import dev.cvpt.train.PromptPresets;
import dev.cvpt.train.Recipe;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.util.Locale;

/**
 * The options of the prompt methods of the related work (VFPT, E2VPT, SPT, and {@code --prompt-init}
 * for VPT and CVPT) and the optimizer choice, shared by train, suite and bench. They become named
 * options of the {@link MethodSpec} (recorded in run.json and the task file) and the recipe's
 * {@link Recipe.Optim}. Each method's defaults are the official ones; a flag given wins over a preset.
 */
public final class PromptMethodFlags {
    @Spec(Spec.Target.MIXEE) CommandSpec mixee;

    @Option(names = "--fourier-fraction", paramLabel = "A", description = "VFPT: share of each layer's prompts through the FFT, in [0,1] (default 0.5; --preset: the paper's).")
    Double fourierFraction;
    @Option(names = "--fourier-dimension", paramLabel = "D", description = "VFPT: all (default), hidden or sequence.")
    String fourierDimension;
    @Option(names = "--fourier-location", paramLabel = "L", description = "VFPT: prepend (default) or append the Fourier prompts.")
    String fourierLocation;
    @Option(names = "--fourier-first-layer", negatable = true, description = "VFPT: Fourier prompts in layer 0 too (default; --no-fourier-first-layer: not).")
    Boolean fourierFirstLayer;
    @Option(names = "--kv-prompts", paramLabel = "T", description = "E2VPT: key-value prompts per block (default 5; --preset: command.txt's).")
    Integer kvPrompts;
    @Option(names = "--kv-deep", negatable = true, description = "E2VPT: key-value prompts in every block (default; --no-kv-deep: block 0 only).")
    Boolean kvDeep;
    @Option(names = "--mask", paramLabel = "MODE", description = "E2VPT pruning masks: none (default), trainable (before pruning) or fixed (--masked-tokens/--masked-pieces).")
    String mask;
    @Option(names = "--mask-pieces", paramLabel = "R", description = "E2VPT: segments per prompt (default 16; must divide the width).")
    Integer maskPieces;
    @Option(names = "--masked-tokens", paramLabel = "IDS", description = "E2VPT --mask fixed: pruned prompt tokens, e.g. 0,4.")
    String maskedTokens;
    @Option(names = "--masked-pieces", paramLabel = "SPEC", description = "E2VPT --mask fixed: pruned segments per token, e.g. '0:1,5;3:2'.")
    String maskedPieces;
    @Option(names = "--prompt-init", paramLabel = "HOW", description = "spt, vpt, cvpt: uniform (the method's own random init; vpt/cvpt default), mean_pooling (spt default), max_pooling, random or kmeans prototypes of the training tokens.")
    String promptInit;
    @Option(names = "--kmeans-iters", paramLabel = "N", description = "--prompt-init kmeans: Lloyd iterations (default 10).")
    Integer kmeansIters;
    @Option(names = "--proto-images", paramLabel = "N", description = "--prompt-init: training images drawn (with replacement) for the prototypes (default: as many as the training set, as the official code).")
    Integer protoImages;

    @Option(names = "--optimizer", paramLabel = "NAME", description = "adamw or sgd (default: the method's official one: sgd for vfpt/e2vpt, adamw otherwise).")
    String optimizer;
    @Option(names = "--momentum", paramLabel = "M", description = "SGD momentum (default 0.9).")
    Double momentum;
    @Option(names = "--wd-rule", paramLabel = "RULE", description = "Weight decay on: all, no-head-bias (vfpt/e2vpt) or no-bias-1d (spt) (default: the method's).")
    String wdRule;
    @Option(names = "--wd-head", paramLabel = "WD", description = "spt (--wd-rule no-bias-1d): the head weight's decay (default: --wd).")
    Double wdHead;
    @Option(names = "--lr-schedule", paramLabel = "KIND", description = "cvpt (timm cosine per epoch), kmnp (vfpt/e2vpt warmup-cosine per epoch) or spt (per step) (default: the method's).")
    String lrSchedule;

    /** SGD's default peak lr where --lr is not given: a point of the official grid {50 … 0.05} × batch/256 (none is published per task). */
    public static final double SGD_BASE_LR = 2.5;
    /** SGD's default weight decay where --wd is not given: a point of the official grid {0.01, 0.001, 1e-4, 0}. */
    public static final double SGD_WD = 1e-3;

    /** A MethodSpec from the common flags; an unknown method or bad value is a one-line error naming the flag. */
    public static MethodSpec spec(String method, int insert, int prompts, boolean deep, double promptDropout) {
        try {
            return new MethodSpec(method, insert, prompts, deep, promptDropout);
        } catch (IllegalArgumentException e) {
            String m = e.getMessage();
            throw new UserException(m.startsWith("unknown method") ? "--method: " + m : m.startsWith("insert") ? "--insert: " + m
                    : m.startsWith("prompts") ? "--prompts: " + m : m);
        }
    }

    private boolean given(String flag) {
        return mixee != null && mixee.commandLine() != null && mixee.commandLine().getParseResult() != null
                && mixee.commandLine().getParseResult().hasMatchedOption(flag);
    }

    /** The spec with the flags' options (and, with a preset, the method's published prompt counts where --prompts was not given). */
    public MethodSpec apply(MethodSpec spec, String preset) {
        try {
            String m = spec.method();
            PromptPresets.Preset p = preset == null ? null : PromptPresets.of(m, preset).orElse(null);
            if (p != null && !given("--prompts"))
                spec = new MethodSpec(m, spec.insert(), p.prompts(), spec.deep(), spec.promptDropout(), spec.options());
            switch (m) {
                case "vfpt" -> {
                    spec = spec.withOption("fourier-fraction", fourierFraction != null ? fourierFraction : p != null ? p.fraction() : 0.5)
                            .withOption("fourier-dimension", fourierDimension != null ? fourierDimension : "all")
                            .withOption("fourier-location", fourierLocation != null ? fourierLocation : "prepend")
                            .withOption("fourier-first-layer", fourierFirstLayer == null || fourierFirstLayer);
                }
                case "e2vpt" -> {
                    spec = spec.withOption("kv-prompts", kvPrompts != null ? kvPrompts : p != null ? p.kvPrompts() : 5)
                            .withOption("kv-deep", kvDeep == null || kvDeep)
                            .withOption("mask", mask != null ? mask.toLowerCase(Locale.ROOT) : "none")
                            .withOption("mask-pieces", maskPieces != null ? maskPieces : 16);
                    if (maskedTokens != null) spec = spec.withOption("masked-tokens", maskedTokens);
                    if (maskedPieces != null) spec = spec.withOption("masked-pieces", maskedPieces);
                }
                default -> { }
            }
            if (m.matches("spt|vpt|cvpt")) {
                String init = promptInit != null ? promptInit : m.equals("spt") ? "mean_pooling" : null;
                if (init != null) spec = spec.withOption("prompt-init", init.toLowerCase(Locale.ROOT).replace('-', '_'));
                if (kmeansIters != null) spec = spec.withOption("kmeans-iters", kmeansIters);
                if (protoImages != null) spec = spec.withOption("proto-images", protoImages);
            }
            rejectForeign(m);
            return spec;
        } catch (IllegalArgumentException e) {
            throw new UserException(e.getMessage());
        }
    }

    /** A method option given to a method that has no such option is an error naming the flag. */
    private void rejectForeign(String m) {
        String[][] own = {{"vfpt", "--fourier-fraction", "--fourier-dimension", "--fourier-location", "--fourier-first-layer"},
                {"e2vpt", "--kv-prompts", "--kv-deep", "--mask", "--mask-pieces", "--masked-tokens", "--masked-pieces"},
                {"spt|vpt|cvpt", "--prompt-init", "--kmeans-iters", "--proto-images"}};
        for (String[] o : own)
            for (int i = 1; i < o.length; i++)
                if ((given(o[i]) || o[i].equals("--fourier-first-layer") && given("--no-fourier-first-layer")
                        || o[i].equals("--kv-deep") && given("--no-kv-deep")) && !m.matches(o[0]))
                    throw new UserException(o[i] + " is an option of " + o[0].replace("|", ", ") + ", not of --method " + m);
    }

    /**
     * The recipe with the method's official optimizer, weight-decay groups and lr schedule, unless
     * flags say otherwise; for vfpt, e2vpt and spt, drop-path defaults to 0 (none of them uses it).
     */
    public Recipe apply(Recipe r, MethodSpec spec) {
        try {
            String m = spec.method();
            Recipe.Optim base = switch (m) {
                case "vfpt", "e2vpt" -> Recipe.Optim.KMNP;
                case "spt" -> Recipe.Optim.spt(-1);
                default -> Recipe.Optim.CVPT;
            };
            Recipe.Optim o = new Recipe.Optim(optimizer != null ? optimizer : base.optimizer(), momentum != null ? momentum : base.momentum(),
                    wdRule != null ? wdRule : base.decay(), wdHead != null ? wdHead : base.headWeightDecay(),
                    lrSchedule != null ? lrSchedule : base.schedule());
            double dropPath = m.matches("vfpt|e2vpt|spt") && !given("--drop-path") ? 0.0 : r.dropPath();
            boolean sgd = o.optimizer().equals("sgd");
            double lr = sgd && !given("--lr") ? SGD_BASE_LR * r.batch() / 256 : r.lr();
            double wd = sgd && !given("--wd") ? SGD_WD : r.weightDecay();
            return new Recipe(r.epochs(), r.batch(), lr, wd, r.warmupEpochs(), dropPath, r.promptDropout(), r.seed(), r.evalEvery(), o);
        } catch (IllegalArgumentException e) {
            String m = e.getMessage();
            String flag = m.startsWith("unknown optimizer") ? "--optimizer: " : m.startsWith("unknown weight-decay") ? "--wd-rule: "
                    : m.startsWith("unknown lr schedule") ? "--lr-schedule: " : m.startsWith("momentum") ? "--momentum: " : "";
            throw new UserException(flag + m);
        }
    }
}
