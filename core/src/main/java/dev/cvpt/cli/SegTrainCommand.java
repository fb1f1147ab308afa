package dev.cvpt.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cvpt.UserException;
import dev.cvpt.model.seg.CrossWeights;
import dev.cvpt.model.seg.SegSpec;
import dev.cvpt.train.TaskFile;
import dev.cvpt.train.seg.SegRecipe;
import dev.cvpt.train.seg.SegTaskFile;
import dev.cvpt.train.seg.SegTrainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.Callable;

@Command(name = "train", sortOptions = false,
        description = {"Tune a frozen ViT for semantic segmentation (ADE20K layout; official CVPT recipe by default: SETR-PUP",
                "decode head + 3 SETR-UP auxiliary heads, SGD momentum 0.9, heads lr x10, poly lr, 160k iterations of 16 crops 512x512).",
                "RUNDIR gets <name>.safetensors (+ .json), metrics.json, metrics.csv, per_class.{md,csv,json}, train.log, run.json",
                "and the training state (saved every --save-every iterations and at each evaluation; continue with --resume RUNDIR)."})
public final class SegTrainCommand implements Callable<Integer> {
    @Option(names = "--data", paramLabel = "DIR", description = "ADE20K layout: images/{training,validation}, annotations/{training,validation}.") Path data;
    @Mixin BackboneOptions backbone;
    @Option(names = "--out", paramLabel = "RUNDIR") Path out;
    @Option(names = "--resume", paramLabel = "RUNDIR", description = "Continue a run from its last saved state (settings from RUNDIR/run.json).") Path resume;
    @Option(names = "--method", defaultValue = "cvpt", description = "cvpt, vpt, head (head-only) or full (default: ${DEFAULT-VALUE}).") String method;
    @Option(names = "--prompts", defaultValue = "10", description = "Prompt tokens per block (default: ${DEFAULT-VALUE}, the config's).") int prompts;
    @Option(names = "--cross-attn", defaultValue = "shared", description = "CVPT cross-attention weights: shared (the block's self-attention, as the paper) or stored (frozen random, as the released seg code) (default: ${DEFAULT-VALUE}).")
    String crossAttn;
    @Option(names = "--drop-rate", defaultValue = "0.1") double dropRate;
    @Option(names = "--prompt-dropout", defaultValue = "0.1") double promptDropout;
    @Option(names = "--out-indices", split = ",", description = "Blocks feeding the heads (default: 9,14,19,23 for 24 blocks; see docs/SEGMENTATION.md).") List<Integer> outIndices;
    @Option(names = "--channels", defaultValue = "256", description = "Head channels (default: ${DEFAULT-VALUE}).") int channels;
    @Option(names = "--iters", defaultValue = "160000") int iters;
    @Option(names = "--batch", defaultValue = "16", description = "Crops per iteration, the global batch; BN statistics are over all of it (default: ${DEFAULT-VALUE}).") int batch;
    @Option(names = "--lr", defaultValue = "1e-3") double lr;
    @Option(names = "--head-lr-mult", defaultValue = "10") double headLrMult;
    @Option(names = "--momentum", defaultValue = "0.9") double momentum;
    @Option(names = "--wd", defaultValue = "0") double wd;
    @Option(names = "--power", defaultValue = "0.9") double power;
    @Option(names = "--min-lr", defaultValue = "1e-4") double minLr;
    @Option(names = "--eval-every", defaultValue = "16000") int evalEvery;
    @Option(names = "--save-every", description = "Save the training state every N iterations (default: --eval-every).") Integer saveEvery;
    @Option(names = "--seed", defaultValue = "0") long seed;
    @Option(names = "--crop", defaultValue = "512", description = "Training crop, slide window and backbone img_size (default: ${DEFAULT-VALUE}).") int crop;
    @Option(names = "--stride", defaultValue = "341") int stride;
    @Option(names = "--scale", split = "x", defaultValue = "2048x512", paramLabel = "LONGxSHORT", description = "Resize img_scale (default: ${DEFAULT-VALUE}).") int[] scale;
    @Option(names = "--name", description = "Task name (default: the data folder's name).") String name;
    @Mixin ThreadsOption threads;
    @Mixin SkipBadOption skipBad;
    @Mixin DebugOption debug;

    @Override
    public Integer call() throws IOException {
        SegTrainer.Options o;
        if (resume != null) {
            o = fromRun(resume);
        } else {
            if (data == null || backbone.checkpoint == null || out == null)
                throw new UserException("seg train needs --data DIR, --checkpoint CKPT and --out RUNDIR (or --resume RUNDIR)");
            o = new SegTrainer.Options(data, backbone.checkpoint, backbone.headsOpt(), out, spec(), recipe(), threads.count(), skipBad.skipBad, name);
        }
        SegTrainer.run(o, resume != null, System.err);
        return Main.OK;
    }

    /** The spec from the flags; the class count comes from the data, the out indices default from the backbone's depth. */
    private SegSpec spec() {
        try {
            // depth and patch only (the head count is irrelevant here; the model is built with the real one)
            dev.cvpt.model.VitConfig cfg = dev.cvpt.model.Backbones.configOf(backbone.checkpoint,
                    dev.cvpt.io.Checkpoint.load(backbone.checkpoint).tensors(), OptionalInt.of(1));
            SegSpec s = SegSpec.official(method, cfg.depth(), cfg.patch(), crop, 1).withPrompts(prompts).withCross(CrossWeights.parse(crossAttn))
                    .withDropout(dropRate, promptDropout).withChannels(channels);
            if (outIndices != null) s = s.withOutIndices(outIndices);
            return s;
        } catch (IllegalArgumentException e) {
            throw new UserException(e.getMessage());
        }
    }

    private SegRecipe recipe() {
        if (scale.length != 2) throw new UserException("--scale is LONGxSHORT, e.g. 2048x512");
        try {
            return new SegRecipe(iters, batch, lr, headLrMult, momentum, wd, power, minLr, evalEvery, saveEvery != null ? saveEvery : evalEvery,
                    seed, crop, stride, Math.max(scale[0], scale[1]), Math.min(scale[0], scale[1]));
        } catch (IllegalArgumentException e) {
            throw new UserException(e.getMessage());
        }
    }

    private SegTrainer.Options fromRun(Path runDir) throws IOException {
        Path f = runDir.resolve("run.json");
        if (!Files.exists(f)) throw new UserException(runDir + ": not a run folder (no run.json)");
        JsonNode c = TaskFile.JSON.readTree(Files.readString(f));
        if (!"segmentation".equals(c.path("task").asText())) throw new UserException(runDir + ": not a segmentation run (use cvpt train --resume)");
        SegRecipe r = TaskFile.JSON.treeToValue(c.get("recipe"), SegRecipe.class);
        int t = threads.threads > 0 ? threads.count() : c.path("threads").asInt(threads.count());
        return new SegTrainer.Options(Path.of(c.path("data").asText()), Path.of(c.path("checkpoint").asText()),
                c.has("heads") ? OptionalInt.of(c.get("heads").asInt()) : backbone.headsOpt(), runDir, SegTaskFile.specOf(c.get("spec")), r, t,
                c.path("skip_bad").asBoolean() || skipBad.skipBad, c.path("name").asText());
    }
}
