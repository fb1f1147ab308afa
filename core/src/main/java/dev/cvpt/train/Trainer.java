package dev.cvpt.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cvpt.UserException;
import dev.cvpt.data.Batch;
import dev.cvpt.data.Loader;
import dev.cvpt.data.Transforms;
import dev.cvpt.engine.DataParallel;
import dev.cvpt.engine.Native;
import dev.cvpt.engine.Precision;
import dev.cvpt.engine.Rand;
import dev.cvpt.engine.Tensors;
import dev.cvpt.io.Checkpoint;
import dev.cvpt.io.CheckpointException;
import dev.cvpt.io.HostTensor;
import dev.cvpt.io.Safetensors;
import dev.cvpt.model.Backbones;
import dev.cvpt.model.MethodSpec;
import dev.cvpt.model.VisionTransformer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalInt;


/**
 * The training flow, top to bottom: open the data, build the model from the backbone, then per
 * epoch: train (forward in training mode, cross-entropy, backward, AdamW), evaluate every N
 * epochs, save the training state atomically (so --resume continues a killed run and ends with the
 * same numbers), and write the metrics, plots and, at the end, the per-task file.
 */
public final class Trainer {
    public static final String STATE = "state.safetensors";
    static final ObjectMapper JSON = TaskFile.JSON;

    /** Everything a run is made of. */
    public record Options(Path data, Path checkpoint, Path runDir, MethodSpec spec, Recipe recipe, int threads,
                          boolean selectOnVal, boolean skipBad, OptionalInt heads, String name, boolean progress) {}

    /** What a finished run reports. */
    public record Summary(Path taskFile, Map<String, Object> metrics) {}

    private final Options o;
    private final PrintStream log;
    private final java.util.List<String> pendingLog = new java.util.ArrayList<>();  // said before the run folder exists
    private boolean logReady;

    private Trainer(Options o, PrintStream log) {
        this.o = o;
        this.log = log;
    }

    public static Summary run(Options o, boolean resume, PrintStream console) throws IOException {
        return new Trainer(o, console).run(resume);
    }

    private Summary run(boolean resume) throws IOException {
        Native.configureThreads();
        Path runDir = o.runDir().toAbsolutePath();
        Path statePath = runDir.resolve(STATE);
        if (!resume && Files.exists(statePath))
            throw new UserException(runDir + " already holds a run (" + STATE + "); continue it with --resume " + o.runDir()
                    + " or choose another --out");
        if (resume && !Files.exists(statePath))
            throw new UserException(runDir + ": nothing to resume (no " + STATE + ")");
        checkWritable(runDir);   // fail fast, but create the folder only once the inputs are known good

        Checkpoint ckpt = Checkpoint.load(o.checkpoint());
        OptionalInt heads = o.heads().isPresent() ? o.heads() : ckpt.heads();
        int img = Backbones.configOf(o.checkpoint(), ckpt.tensors(), heads).img();
        say("data: " + o.data());
        DataSplits data = DataSplits.open(o.data(), img, o.selectOnVal(), o.skipBad());
        int skipped = data.train().skipped() + data.test().skipped() + (data.val() == null ? 0 : data.val().skipped());
        say(String.format(Locale.ROOT, "%s layout, %d classes: train %d, %stest %d images%s", data.layout(), data.numClasses(),
                data.train().size(), data.val() == null ? "" : "val " + data.val().size() + ", ", data.test().size(),
                skipped > 0 ? " (" + skipped + " bad entries skipped)" : ""));
        String name = o.name() != null ? o.name() : data.name();
        ensureWritable(runDir);
        logReady = true;
        for (String line : pendingLog) appendLog(line);
        pendingLog.clear();

        Recipe r = o.recipe();
        warnIfWarmupCoversRun(r);
        // the run's own generator (Rand): the model's initialisation and every later draw come from it
        Generator gen = Rand.forRun(r.seed());
        try (Rand.Binding bound = Rand.bind(gen)) {
            return train(resume, ckpt, heads, data, skipped, name, runDir, statePath, gen);
        }
    }

    private Summary train(boolean resume, Checkpoint ckpt, OptionalInt heads, DataSplits data, int skipped, String name,
                          Path runDir, Path statePath, Generator gen) throws IOException {
        Recipe r = o.recipe();
        MethodSpec spec = new MethodSpec(o.spec().method(), o.spec().insert(), o.spec().prompts(), o.spec().deep(), r.promptDropout(),
                o.spec().options());
        if (Precision.current() == Precision.BF16 && spec.method().equals("full"))
            throw new UserException("--precision bf16 is for a frozen backbone; --method full trains it (use fp32)");
        VisionTransformer vit = Rand.drawingFromDefault(gen, () -> Backbones.build(o.checkpoint(), ckpt.tensors(),
                heads, spec, data.numClasses()));
        vit.dropPathRate(r.dropPath());
        if (!resume) PromptInit.apply(vit, spec, data.train(), data.trainTransform(), r.seed(), this::say);
        Map<String, Tensor> trainable = vit.trainableParameters();
        long trainableCount = trainable.values().stream().mapToLong(Tensor::numel).sum();
        Optimizer opt = r.optimizer(trainable);

        ObjectNode config = runConfig(spec, r, data, name, trainableCount);
        History history = new History();
        int start = 0;
        if (resume) {
            start = restore(statePath, config, trainable, opt, history, gen) + 1;
            say("resuming " + runDir + " at epoch " + (start + 1) + "/" + r.epochs());
        } else {
            writeText(runDir.resolve("run.json"), JSON.writeValueAsString(config));
        }
        say(String.format(Locale.ROOT, "%s on %s (%s), %,d trainable parameters; %d epochs of %d steps, lr %.3g",
                spec.method(), o.checkpoint().getFileName(), vit.config(), trainableCount, r.epochs(),
                data.train().size() / r.batch(), r.lr()));

        int threads = Math.max(1, o.threads());
        try (DataParallel dp = new DataParallel(threads);
             Loader train = Loader.create(data.train(), data.trainTransform(),
                     Loader.Options.train(r.seed(), threads).withBatchSize(r.batch()).withSkipBad(o.skipBad()));
             Loader test = Loader.create(data.test(), data.evalTransform(), Loader.Options.eval(64, threads).withSkipBad(o.skipBad()));
             Loader val = data.val() == null ? null
                     : Loader.create(data.val(), data.evalTransform(), Loader.Options.eval(64, threads).withSkipBad(o.skipBad()))) {
            // unreadable images are found (and, with skipBad, left out) when the loaders decode them
            int unreadable = train.dataset().skipped() + test.dataset().skipped() + (val == null ? 0 : val.dataset().skipped()) - skipped;
            if (unreadable > 0) {
                say(unreadable + " unreadable images skipped: train " + train.dataset().size() + ", "
                        + (val == null ? "" : "val " + val.dataset().size() + ", ") + "test " + test.dataset().size() + " images left");
                skipped += unreadable;
            }
            if (train.batchesPerEpoch() == 0)
                throw new UserException(o.data() + ": " + data.train().size() + " training images are fewer than one batch of " + r.batch());
            LrSchedule schedule = r.schedule();
            for (int epoch = start; epoch < r.epochs(); epoch++) {
                double lr = schedule.at(epoch);
                int stepInEpoch = 0;
                long t0 = System.nanoTime();
                double lossSum = 0;
                long correct = 0, seen = 0;
                int steps = train.batchesPerEpoch();
                try (ProgressBar bar = progress("epoch " + (epoch + 1) + "/" + r.epochs(), steps);
                     var batches = train.epoch(epoch)) {
                    for (Batch b : batches) {
                        try (PointerScope scope = new PointerScope()) {
                            Tensor x = Tensors.fromFloats(b.images(), b.imageShape());
                            Tensor y = Tensors.fromLongs(b.labels(), b.size());
                            if (schedule.perStep()) lr = schedule.at(epoch, stepInEpoch, steps);
                            stepInEpoch++;
                            opt.zeroGrad();
                            Steps.Result res = Steps.forwardBackward(dp, vit, x, y);
                            float l = (float) res.loss();
                            if (!Float.isFinite(l))
                                throw new TrainingDiverged(String.format(Locale.ROOT,
                                        "the loss became %s at epoch %d, step %d (lr %.3g); the last good training state is %s",
                                        l, epoch + 1, opt.stepCount() + 1, lr,
                                        Files.exists(statePath) ? statePath + " (resume with --resume " + o.runDir() + ")" : "none (it diverged in the first epoch)"));
                            opt.step(lr);
                            lossSum += l * b.size();
                            long[] pred = res.predictions();
                            for (int i = 0; i < b.size(); i++) if (pred[i] == b.labels()[i]) correct++;
                            seen += b.size();
                        }
                        if (bar != null) {
                            double secs = (System.nanoTime() - t0) / 1e9;
                            bar.step();
                            bar.setExtraMessage(String.format(Locale.ROOT, " loss %.4f lr %.2e %.1f img/s", lossSum / seen, lr, seen / secs));
                        }
                    }
                }
                double secs = (System.nanoTime() - t0) / 1e9;
                boolean evalNow = (epoch + 1) % r.evalEvery() == 0 || epoch == r.epochs() - 1;
                double testTop1 = Double.NaN, valTop1 = Double.NaN;
                if (evalNow) {
                    testTop1 = Evaluator.evaluate(vit, test, dp).top1();
                    if (val != null) valTop1 = Evaluator.evaluate(vit, val, dp).top1();
                }
                history.add(new History.Row(epoch, lr, lossSum / seen, 100.0 * correct / seen, seen / secs, secs, valTop1, testTop1));
                String line = String.format(Locale.ROOT, "epoch %d/%d  lr %.3e  loss %.4f  train %.2f%%  %.1f img/s%s%s",
                        epoch + 1, r.epochs(), lr, lossSum / seen, 100.0 * correct / seen, seen / secs,
                        Double.isNaN(valTop1) ? "" : String.format(Locale.ROOT, "  val %.2f%%", valTop1),
                        Double.isNaN(testTop1) ? "" : String.format(Locale.ROOT, "  test %.2f%%", testTop1));
                say(line);
                saveState(statePath, config, epoch, trainable, opt, history, gen);
                history.writeCsv(runDir.resolve("metrics.csv"));
                history.writePlots(runDir, name + " (" + spec.method() + ")");
            }
            Map<String, Object> metrics = metrics(history, r, trainableCount, skipped);
            writeText(runDir.resolve("metrics.json"), JSON.writeValueAsString(metrics));
            Path taskFile = runDir.resolve(name + ".safetensors");
            writeTaskFile(taskFile, vit, trainable, spec, data, name, config, metrics);
            say("task file: " + taskFile);
            say(String.format(Locale.ROOT, "test top-1: %.2f%% (final epoch); best of the evaluations: %.2f%% (selected on test, as the official code reports)",
                    (double) metrics.get("test_top1"), (double) metrics.get("test_top1_best")));
            return new Summary(taskFile, metrics);
        }
    }

    /**
     * The official schedule trains epoch e at timm's value for e − 1 and warms up for W epochs from
     * 1e-6, so a run of at most W + 1 epochs never leaves the warmup (with W = 10, `--epochs 2` trains
     * at 1e-6 and ~1e-4): say so in one line instead of silently learning nothing. The recipe is kept
     * as given (the official one stays exact at 100 epochs).
     */
    static String warmupWarning(Recipe r) {
        if (r.warmupEpochs() == 0 || r.epochs() > r.warmupEpochs() + 1) return null;
        return String.format(Locale.ROOT, "warning: the %d warmup epochs cover the whole %d-epoch run (lr %.3g at most, peak %.3g never reached); "
                + "use --warmup %d or fewer, or more --epochs", r.warmupEpochs(), r.epochs(),
                r.schedule().at(r.epochs() - 1), r.lr(), Math.max(0, r.epochs() / 10));
    }

    private void warnIfWarmupCoversRun(Recipe r) {
        String w = warmupWarning(r);
        if (w != null) say(w);
    }

    /** Thrown when the loss is NaN or infinite; the message names the step, the lr and the last good state. */
    public static final class TrainingDiverged extends RuntimeException {
        TrainingDiverged(String m) { super(m); }
    }

    private ObjectNode runConfig(MethodSpec spec, Recipe r, DataSplits data, String name, long trainable) {
        ObjectNode c = JSON.createObjectNode();
        c.put("name", name);
        c.put("data", o.data().toAbsolutePath().normalize().toString());
        c.put("layout", data.layout());
        c.put("checkpoint", o.checkpoint().toAbsolutePath().normalize().toString());
        c.put("method", spec.method());
        c.put("insert", spec.insert());
        c.put("prompts", spec.prompts());
        c.put("deep", spec.deep());
        c.set("options", JSON.valueToTree(spec.options()));
        c.set("recipe", JSON.valueToTree(r));
        c.put("select_on_val", o.selectOnVal());
        c.put("threads", o.threads());
        c.put("precision", Precision.current().flag());
        c.put("trainable_params", trainable);
        return c;
    }

    private static Map<String, Object> metrics(History h, Recipe r, long trainable, int skipped) {
        Map<String, Object> m = new LinkedHashMap<>();
        History.Row last = h.rows().get(h.rows().size() - 1);
        double best = Double.NaN, bestVal = Double.NaN, testAtBestVal = Double.NaN;
        int bestEpoch = -1, bestValEpoch = -1;
        for (History.Row row : h.rows()) {
            if (!Double.isNaN(row.testTop1()) && !(row.testTop1() <= best)) { best = row.testTop1(); bestEpoch = row.epoch() + 1; }
            if (!Double.isNaN(row.valTop1()) && !(row.valTop1() <= bestVal)) {
                bestVal = row.valTop1(); bestValEpoch = row.epoch() + 1; testAtBestVal = row.testTop1();
            }
        }
        m.put("test_top1", last.testTop1());
        m.put("test_top1_best", best);
        m.put("test_top1_best_epoch", bestEpoch);
        m.put("test_top1_best_selection", "maximum over the test evaluations every " + r.evalEvery()
                + " epochs, i.e. selected on the test set (what the official code reports)");
        if (!Double.isNaN(last.valTop1())) {
            m.put("val_top1", last.valTop1());
            m.put("val_top1_best", bestVal);
            m.put("val_top1_best_epoch", bestValEpoch);
            m.put("test_top1_at_best_val", testAtBestVal);
        }
        m.put("train_loss", last.trainLoss());
        m.put("epochs", h.rows().size());
        m.put("images_per_s", h.rows().stream().mapToDouble(History.Row::imagesPerS).average().orElse(Double.NaN));
        m.put("train_seconds", h.rows().stream().mapToDouble(History.Row::seconds).sum());
        m.put("trainable_params", trainable);
        m.put("skipped_images", skipped);
        return m;
    }

    private void writeTaskFile(Path file, VisionTransformer vit, Map<String, Tensor> trainable, MethodSpec spec,
                               DataSplits data, String name, ObjectNode config, Map<String, Object> metrics) throws IOException {
        Map<String, HostTensor> tensors = new LinkedHashMap<>();
        vit.savedParameters().forEach((n, t) -> tensors.put(n, Tensors.toHost(t)));   // trainables + frozen method tensors
        vit.method().aliases().forEach((alias, n) -> tensors.put(alias, tensors.get(n)));   // e.g. NOAH's sampled_bias_1
        ObjectNode info = JSON.createObjectNode();
        info.put("format", "cvpt-task/1");
        info.put("name", name);
        info.put("method", spec.method());
        if (spec.method().equals("cvpt")) info.put("insert", spec.insert());
        if (spec.usesPrompts()) {
            info.put("prompts", spec.prompts());
            info.put("deep", spec.deep());
        }
        if (!spec.options().isEmpty()) info.set("options", JSON.valueToTree(spec.options()));
        Map<String, String> official = new LinkedHashMap<>();
        tensors.keySet().forEach(n -> { String o = vit.method().officialName(n); if (!o.equals(n)) official.put(n, o); });
        if (!official.isEmpty()) info.set("official_names", JSON.valueToTree(official));   // names in the official code's state dict
        info.put("num_classes", data.numClasses());
        info.set("classes", JSON.valueToTree(data.classNames()));
        ObjectNode pre = info.putObject("preprocessing");
        pre.put("transform", data.evalTransform().name());
        pre.put("train_transform", data.trainTransform().name());
        pre.put("size", data.evalTransform().size());
        pre.set("mean", JSON.valueToTree(Transforms.MEAN));
        pre.set("std", JSON.valueToTree(Transforms.STD));
        ObjectNode bb = info.putObject("backbone");
        bb.put("file", o.checkpoint().getFileName().toString());
        bb.put("path", o.checkpoint().toAbsolutePath().normalize().toString());
        bb.put("sha256", TaskFile.sha256(o.checkpoint()));
        bb.set("dims", JSON.valueToTree(vit.config()));
        info.put("precision", config.path("precision").asText("fp32"));   // of the training; any precision can serve it
        info.set("recipe", config.get("recipe"));
        info.put("data", config.get("data").asText());
        info.set("metrics", JSON.valueToTree(metrics));
        info.put("created", Instant.now().toString());
        new TaskFile(file, tensors, info).write();
    }

    // ---------------------------------------------------------------- training state (resume)

    private static void saveState(Path file, ObjectNode config, int epoch, Map<String, Tensor> trainable, Optimizer opt,
                                  History history, Generator gen) throws IOException {
        Map<String, HostTensor> t = new LinkedHashMap<>();
        try (PointerScope s = new PointerScope()) {
            trainable.forEach((n, p) -> t.put("param/" + n, Tensors.toHost(p)));
            opt.saveState(t);
            byte[] rng = Tensors.toBytes(gen.get_state());
            t.put("rng/torch", new HostTensor(dev.cvpt.io.DType.U8, new long[]{rng.length}, java.nio.ByteBuffer.wrap(rng)));
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("epoch", Integer.toString(epoch));
        meta.put("step", Long.toString(opt.stepCount()));
        meta.put("history", history.toJson());
        meta.put("config", JSON.writeValueAsString(config));
        try {
            Safetensors.write(file, t, meta);
        } catch (IOException e) {
            String why = e instanceof java.nio.file.FileSystemException f && f.getReason() != null ? f.getReason() : e.getMessage();
            throw new UserException("cannot save the training state to " + file + ": " + why
                    + "; the previous state (if any) is intact", e);
        }
    }

    /** Restores a saved state; returns the last completed epoch. */
    private static int restore(Path file, ObjectNode config, Map<String, Tensor> trainable, Optimizer opt, History history, Generator gen) {
        var st = Safetensors.read(file);
        Map<String, String> meta = st.metadata();
        try {
            ObjectNode saved = (ObjectNode) JSON.readTree(meta.getOrDefault("config", "{}"));
            for (String k : new String[]{"method", "insert", "prompts", "deep", "recipe", "checkpoint", "select_on_val"})
                if (!saved.path(k).toString().equals(config.path(k).toString()))
                    throw new UserException(file + ": cannot resume: the run was started with " + k + " = " + saved.path(k)
                            + ", now it is " + config.path(k));
            String was = saved.path("precision").asText("fp32"), now = config.path("precision").asText("fp32");
            if (!was.equals(now))
                throw new UserException(file + ": cannot resume: the run was trained with --precision " + was + ", now it is " + now);
            History h = History.fromJson(meta.get("history"));
            h.rows().forEach(history::add);
        } catch (IOException | NullPointerException e) {
            throw new CheckpointException(file, null, "training state metadata is unreadable");
        }
        try (NoGradGuard g = new NoGradGuard()) {
            for (var e : trainable.entrySet())
                Tensors.copyInto(e.getValue(), file, st.tensors(), "param/" + e.getKey(), "the training state");
            if (opt instanceof AdamW a)   // every moment must be there (they exist from the start)
                for (String n : trainable.keySet()) {
                    Tensors.copyInto(a.firstMoments().get(n), file, st.tensors(), AdamW.EXP_AVG + "/" + n, "the training state");
                    Tensors.copyInto(a.secondMoments().get(n), file, st.tensors(), AdamW.EXP_AVG_SQ + "/" + n, "the training state");
                }
            else opt.loadState(file, st.tensors(), opt.stateKinds());   // SGD: buffers exist after the first step only
        }
        HostTensor rng = st.tensors().get("rng/torch");
        if (rng == null) throw new CheckpointException(file, "rng/torch", "missing");
        byte[] b = new byte[rng.data().remaining()];
        rng.data().duplicate().get(b);
        gen.set_state(Tensors.fromBytes(b));
        opt.stepCount(Long.parseLong(meta.get("step")));
        return Integer.parseInt(meta.get("epoch"));
    }

    // ---------------------------------------------------------------- output

    private static void ensureWritable(Path dir) {
        try {
            Files.createDirectories(dir);
            Path probe = Files.createTempFile(dir, ".probe", ".tmp");
            Files.delete(probe);
        } catch (IOException e) {
            String why = Files.exists(dir) && !Files.isDirectory(dir) ? "it is a file, not a folder"
                    : e instanceof java.nio.file.FileSystemException f && f.getReason() != null ? f.getReason() : e.getClass().getSimpleName();
            throw new UserException("cannot write to the run folder " + dir + ": " + why);
        }
    }

    private void say(String line) {
        log.println(line);
        String stamped = Instant.now() + "  " + line + System.lineSeparator();
        if (logReady) appendLog(stamped);
        else pendingLog.add(stamped);
    }

    private void appendLog(String stamped) {
        try {
            Files.writeString(o.runDir().resolve("train.log"), stamped, StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            // the log is a convenience; the state and metrics writes report real failures
        }
    }

    /** The run folder can be made: its nearest existing ancestor is a writable folder. */
    private static void checkWritable(Path dir) {
        Path p = dir;
        while (p != null && !Files.exists(p)) p = p.getParent();
        if (p == null || !Files.isDirectory(p) || !Files.isWritable(p))
            throw new UserException("cannot write to the run folder " + dir + ": " + (p == null ? "no existing parent"
                    : !Files.isDirectory(p) ? p + " is not a folder" : p + " is not writable"));
    }

    private static void writeText(Path file, String text) throws IOException {
        dev.cvpt.io.AtomicFiles.write(file, out -> out.write(text.getBytes(StandardCharsets.UTF_8)));
    }

    private ProgressBar progress(String task, int steps) {
        if (!o.progress()) return null;
        return new ProgressBarBuilder().setTaskName(task).setInitialMax(steps).setStyle(ProgressBarStyle.ASCII)
                .setUpdateIntervalMillis(500).setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err))
                .build();
    }
}
