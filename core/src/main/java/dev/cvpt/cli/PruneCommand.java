package dev.cvpt.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cvpt.UserException;
import dev.cvpt.data.Loader;
import dev.cvpt.engine.Native;
import dev.cvpt.engine.Tensors;
import dev.cvpt.io.AtomicFiles;
import dev.cvpt.io.Checkpoint;
import dev.cvpt.model.Backbones;
import dev.cvpt.model.MethodSpec;
import dev.cvpt.model.VisionTransformer;
import dev.cvpt.train.DataSplits;
import dev.cvpt.train.Pruning;
import dev.cvpt.train.Recipe;
import dev.cvpt.train.TaskFile;
import dev.cvpt.train.Trainer;
import org.bytedeco.pytorch.NoGradGuard;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static org.bytedeco.pytorch.global.torch.manual_seed;

@Command(name = "prune", sortOptions = false,
        description = {"E2VPT's pruning with rewinding (official tune_vtab_PruningRewind_CVK.py): from a finished",
                "`train --method e2vpt --mask trainable --select-on-val` run, score the masks on train800 (signed mask",
                "gradients), write the cumulative token and segment selections (mask_tokens/, mask_tokens_pieces/),",
                "retrain a fresh model for every (token count × segment count) pair with those 0/1 masks fixed,",
                "pick the pair with the best final val200 top-1 (ties: more masked tokens) and train it on",
                "train800val200 (OUT/final). Restartable: finished rewinds are kept."})
public final class PruneCommand implements java.util.concurrent.Callable<Integer> {
    @Option(names = "--run", required = true, paramLabel = "RUNDIR", description = "The pre-pruning e2vpt run (--mask trainable, --select-on-val).")
    Path run;
    @Option(names = "--out", required = true, paramLabel = "DIR") Path out;
    @Option(names = "--token-counts", split = ",", paramLabel = "K", description = "Only these masked-token counts (default: every official one).")
    List<Integer> tokenCounts;
    @Option(names = "--piece-counts", split = ",", paramLabel = "M", description = "Only these masked-segment counts (default: every official one).")
    List<Integer> pieceCounts;
    @Option(names = "--rewind-epochs", description = "Epochs of each rewind and of the final run (default: the run's).") Integer rewindEpochs;
    @Option(names = "--threads", defaultValue = "0") int threads;
    @Option(names = "--skip-bad") boolean skipBad;
    @Option(names = "--no-progress") boolean noProgress;
    @Mixin DebugOption debug;

    @Override
    public Integer call() throws IOException {
        Native.configureThreads();
        JsonNode runJson = TrainCommand.runJson(run);
        // the rewinds and the final run train in the precision of the pruned run
        dev.cvpt.engine.Precision.use(TrainCommand.runPrecision(runJson, run));
        Trainer.Options o = TrainCommand.fromRun(run, runJson, threads, skipBad, null, !noProgress && System.console() != null);
        MethodSpec spec = o.spec();
        if (!spec.method().equals("e2vpt") || !spec.stringOption("mask", "none").equals("trainable"))
            throw new UserException(run + ": prune needs an e2vpt run trained with --mask trainable (this one is "
                    + spec.method() + (spec.method().equals("e2vpt") ? " --mask " + spec.stringOption("mask", "none") : "") + ")");
        if (!o.selectOnVal())
            throw new UserException(run + ": prune picks the pruned sizes on val200: the run must be trained with --select-on-val");
        Path taskFile = run.resolve(o.name() + ".safetensors");
        if (!Files.exists(taskFile)) throw new UserException(run + ": the run has not finished (no " + taskFile.getFileName() + ")");
        Recipe recipe = o.recipe();
        if (rewindEpochs != null) recipe = new Recipe(rewindEpochs, recipe.batch(), recipe.lr(), recipe.weightDecay(),
                Math.min(recipe.warmupEpochs(), rewindEpochs - 1), recipe.dropPath(), recipe.promptDropout(), recipe.seed(),
                Math.min(recipe.evalEvery(), rewindEpochs), recipe.optim());
        Files.createDirectories(out);

        // 1. importance of the trained masks
        Checkpoint ckpt = Checkpoint.load(o.checkpoint());
        TaskFile tf = TaskFile.read(taskFile);
        VisionTransformer vit = Backbones.build(o.checkpoint(), ckpt.tensors(), ckpt.heads(), spec, Math.max(1, tf.classNames().size()));
        try (NoGradGuard g = new NoGradGuard()) {
            vit.savedParameters().forEach((n, t) -> Tensors.copyInto(t, taskFile, tf.tensors(), n, "the task file"));
        }
        DataSplits data = DataSplits.open(o.data(), vit.config().img(), true, skipBad);
        manual_seed(recipe.seed());
        Pruning.Scores scores;
        int th = TrainCommand.threadCount(threads);
        try (Loader train = Loader.create(data.train(), data.trainTransform(),
                Loader.Options.train(recipe.seed(), th).withBatchSize(recipe.batch()).withSkipBad(skipBad))) {
            // the official loop steps the trainer's fresh optimizer after each batch, at its schedule's first lr
            scores = Pruning.importance(vit, train, recipe.optimizer(vit.trainableParameters()), recipe.schedule().at(0));
        }
        int p = spec.prompts(), r = spec.intOption("mask-pieces", 16);
        var tokenSel = Pruning.selectTokens(scores.tokens(), Pruning.counts(p, Pruning.MIN_TOKENS));
        var pieceSel = Pruning.selectPieces(scores.pieces(), Pruning.counts(r, Pruning.MIN_PIECES));
        for (var e : tokenSel.entrySet())
            json(out.resolve("mask_tokens").resolve(e.getKey() + "_soft_tokens_to_mask.json"), Map.of(e.getKey().toString(), e.getValue()));
        for (var e : pieceSel.entrySet()) {
            Map<String, Object> m = new LinkedHashMap<>();
            e.getValue().forEach((t, js) -> m.put(t.toString(), js));
            json(out.resolve("mask_tokens_pieces").resolve(e.getKey() + "_soft_tokens_pieces_to_mask.json"), m);
        }
        Map<String, Object> scoreJson = new LinkedHashMap<>();
        scoreJson.put("token_scores", scores.tokens());
        scoreJson.put("piece_scores", scores.pieces());
        json(out.resolve("importance.json"), scoreJson);
        System.err.println("importance: " + tokenSel.size() + " token counts " + tokenSel.keySet() + ", " + pieceSel.size()
                + " segment counts " + pieceSel.keySet() + " -> " + out);

        // 2. rewind every pair, 3. pick on val200
        List<Map<String, Object>> rows = new ArrayList<>();
        double bestVal = -1;
        int bestK = -1, bestM = -1;
        for (int k : tokenSel.keySet()) {
            if (tokenCounts != null && !tokenCounts.contains(k)) continue;
            for (int m : pieceSel.keySet()) {
                if (pieceCounts != null && !pieceCounts.contains(m)) continue;
                Path dir = out.resolve("rewind").resolve(String.format(Locale.ROOT, "t%d_p%d", k, m));
                var metrics = train(o, masked(spec, tokenSel.get(k), pieceSel.get(m)), recipe, dir, true);
                double val = ((Number) metrics.get("val_top1")).doubleValue();
                rows.add(Map.of("masked_tokens", k, "masked_pieces", m, "val_top1", val, "test_top1", metrics.get("test_top1")));
                System.err.printf(Locale.ROOT, "rewind t%d p%d: val200 %.2f%%%n", k, m, val);
                if (val > bestVal || val == bestVal && k > bestK) { bestVal = val; bestK = k; bestM = m; }
            }
        }
        if (bestK < 0) throw new UserException("--token-counts/--piece-counts select no pair (token counts " + tokenSel.keySet()
                + ", segment counts " + pieceSel.keySet() + ")");
        // 4. the chosen masks on train800val200
        MethodSpec best = masked(spec, tokenSel.get(bestK), pieceSel.get(bestM));
        var fin = train(o, best, recipe, out.resolve("final"), false);
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("run", run.toAbsolutePath().normalize().toString());
        summary.put("chosen", Map.of("masked_tokens", bestK, "masked_pieces", bestM, "val_top1", bestVal,
                "masked-tokens", best.stringOption("masked-tokens", ""), "masked-pieces", best.stringOption("masked-pieces", "")));
        summary.put("rewinds", rows);
        summary.put("final_test_top1", fin.get("test_top1"));
        summary.put("final_task_file", out.resolve("final").resolve(o.name() + ".safetensors").toString());
        json(out.resolve("prune.json"), summary);
        System.out.println(new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(summary));
        return Main.OK;
    }

    private static MethodSpec masked(MethodSpec s, List<Integer> tokens, Map<Integer, List<Integer>> pieces) {
        MethodSpec plain = new MethodSpec(s.method(), s.insert(), s.prompts(), s.deep(), s.promptDropout());
        for (var e : s.options().entrySet())
            if (!e.getKey().matches("mask|masked-tokens|masked-pieces")) plain = plain.withOption(e.getKey(), e.getValue());
        return plain.withOption("mask", "fixed").withOption("masked-tokens", Pruning.tokensOption(tokens))
                .withOption("masked-pieces", Pruning.piecesOption(pieces));
    }

    /** One training run (kept when finished, continued when killed); returns its metrics. */
    private Map<String, Object> train(Trainer.Options o, MethodSpec spec, Recipe recipe, Path dir, boolean onVal) throws IOException {
        Path metrics = dir.resolve("metrics.json");
        if (!Files.exists(metrics)) {
            Trainer.run(new Trainer.Options(o.data(), o.checkpoint(), dir, spec, recipe, TrainCommand.threadCount(threads), onVal, skipBad,
                    o.heads(), o.name(), o.progress()), Files.exists(dir.resolve(Trainer.STATE)), System.err);
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> m = TaskFile.JSON.readValue(Files.readString(metrics), Map.class);
        return m;
    }

    private static void json(Path f, Object value) throws IOException {
        Files.createDirectories(f.getParent());
        byte[] b = TaskFile.JSON.writeValueAsString(value).getBytes(StandardCharsets.UTF_8);
        AtomicFiles.write(f, s -> s.write(b));
    }
}
