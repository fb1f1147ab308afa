package dev.cvpt.train.seg;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cvpt.UserException;
import dev.cvpt.data.seg.SegSample;
import dev.cvpt.engine.DataParallel;
import dev.cvpt.engine.Native;
import dev.cvpt.engine.Tensors;
import dev.cvpt.io.AtomicFiles;
import dev.cvpt.io.Checkpoint;
import dev.cvpt.io.CheckpointException;
import dev.cvpt.io.HostTensor;
import dev.cvpt.io.Safetensors;
import dev.cvpt.model.Backbones;
import dev.cvpt.model.seg.SegModel;
import dev.cvpt.model.seg.SegSpec;
import dev.cvpt.train.PolyLr;
import dev.cvpt.train.Sgd;
import dev.cvpt.train.TaskFile;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalInt;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.bytedeco.pytorch.global.torch.getDefaultCPUGenerator;
import static org.bytedeco.pytorch.global.torch.manual_seed;

/**
 * Segmentation training, iteration-based as mmseg's IterBasedRunner: per iteration a batch of training crops
 * (an epoch-wise shuffle, drop_last; each crop's augmentation drawn from a generator seeded by (seed,
 * iteration, slot), so a resumed run sees the same data), {@link SegSteps} (BN over the whole batch), SGD with
 * the head lr ×10 and the poly lr at that iteration; every {@code evalEvery} iterations slide inference on
 * the validation split and {@link SegMetrics} (aAcc, mIoU, mAcc); the training state (trainables, BN buffers,
 * SGD momentum, iteration, torch RNG, history) saved atomically every {@code saveEvery} iterations and at each
 * evaluation, so {@code --resume} continues a killed run; at the end the task file, metrics and per-class tables.
 */
public final class SegTrainer {
    public static final String STATE = "state.safetensors";

    public record Options(Path data, Path checkpoint, OptionalInt heads, Path runDir, SegSpec spec, SegRecipe recipe,
                          int threads, boolean skipBad, String name) {}

    public record Summary(Path taskFile, Map<String, Object> metrics) {}

    /** One logged interval: iterations (from, to], mean loss, lr of the heads at its last iteration; eval figures or NaN. */
    public record Row(int iter, double headLr, double loss, double imagesPerS, double aAcc, double mIoU, double mAcc) {}

    private final Options o;
    private final PrintStream console;

    private SegTrainer(Options o, PrintStream console) {
        this.o = o;
        this.console = console;
    }

    public static Summary run(Options o, boolean resume, PrintStream console) throws IOException {
        return new SegTrainer(o, console).run(resume);
    }

    private Summary run(boolean resume) throws IOException {
        Native.configureThreads();
        Path runDir = o.runDir().toAbsolutePath();
        Path statePath = runDir.resolve(STATE);
        if (!resume && Files.exists(statePath))
            throw new UserException(runDir + " already holds a run (" + STATE + "); continue it with --resume " + o.runDir() + " or choose another --out");
        if (resume && !Files.exists(statePath)) throw new UserException(runDir + ": nothing to resume (no " + STATE + ")");
        SegRecipe r = o.recipe();
        Checkpoint ckpt = Checkpoint.load(o.checkpoint());
        OptionalInt heads = o.heads().isPresent() ? o.heads() : ckpt.heads();
        try (SegInputs data = SegInputs.open(o.data(), r, o.skipBad(), o.threads())) {
            SegSpec spec = o.spec().withNumClasses(data.numClasses());   // the class count comes from the data
            String name = o.name() != null ? o.name() : o.data().toAbsolutePath().normalize().getFileName().toString();
            Files.createDirectories(runDir);
            say(String.format(Locale.ROOT, "data: %s: %d classes, train %d, val %d images%s", o.data(), data.numClasses(), data.trainSize(),
                    data.valSize(), data.skipped() > 0 ? " (" + data.skipped() + " bad samples skipped)" : ""));
            if (data.trainSize() < r.batch())
                throw new UserException(o.data() + ": " + data.trainSize() + " training images are fewer than one batch of " + r.batch());
            manual_seed(r.seed());
            SegModel m = SegModel.build(o.checkpoint(), ckpt.tensors(), heads, spec);
            Map<String, Tensor> trainable = m.trainableParameters();
            long count = trainable.values().stream().mapToLong(Tensor::numel).sum();
            Sgd opt = new Sgd(trainable, r.momentum(), 0, r.weightDecay(), false);
            PolyLr poly = new PolyLr(r.iters(), r.power(), r.minLr());
            ObjectNode config = runConfig(name, count, spec);
            List<Row> history = new ArrayList<>();
            int start = 0;
            if (resume) {
                start = restore(statePath, config, m, opt, history) + 1;
                say("resuming " + runDir + " at iteration " + (start + 1) + "/" + r.iters());
            } else {
                write(runDir.resolve("run.json"), TaskFile.JSON.writeValueAsString(config));
            }
            say(String.format(Locale.ROOT, "%s on %s (%s), %,d trainable parameters; %d iterations of %d crops %dx%d, lr %.3g (heads x%.0f), poly %.1f",
                    spec.method(), o.checkpoint().getFileName(), m.backbone().config(), count, r.iters(), r.batch(), r.crop(), r.crop(),
                    r.lr(), r.headLrMult(), r.power()));
            int bpe = data.trainSize() / r.batch();
            SegMetrics.Result last = null;
            ExecutorService loaders = Executors.newFixedThreadPool(Math.max(1, o.threads()), t -> {
                Thread th = new Thread(t, "seg-load");
                th.setDaemon(true);
                return th;
            });
            try (DataParallel dp = new DataParallel(o.threads())) {
                double lossSum = 0;
                int lossN = 0;
                long t0 = System.nanoTime();
                for (int it = start; it < r.iters(); it++) {
                    int[] idx = batchIndices(data.trainSize(), bpe, r.batch(), r.seed(), it);
                    List<SegSample> batch = load(loaders, data, idx, r.seed(), it);
                    long iter = it;
                    try (PointerScope s = new PointerScope()) {
                        Tensor x = images(batch), y = labels(batch);
                        opt.zeroGrad();
                        SegSteps.Result res = SegSteps.forwardBackward(dp, m, x, y, true);
                        if (!Double.isFinite(res.loss()))
                            throw new UserException(String.format(Locale.ROOT, "the loss became %s at iteration %d; the last good training state is %s",
                                    res.loss(), it + 1, Files.exists(statePath) ? statePath + " (resume with --resume " + o.runDir() + ")" : "none"));
                        opt.step(n -> poly.at(n.contains("head") ? r.lr() * r.headLrMult() : r.lr(), iter));
                        lossSum += res.loss();
                        lossN++;
                    }
                    boolean evalNow = (it + 1) % r.evalEvery() == 0 || it == r.iters() - 1;
                    boolean saveNow = evalNow || (it + 1) % r.saveEvery() == 0;
                    if (evalNow || saveNow) {
                        double secs = (System.nanoTime() - t0) / 1e9;
                        SegMetrics.Result ev = null;
                        if (evalNow) {
                            ev = evaluate(m, data, dp, r);
                            last = ev;
                        }
                        Row row = new Row(it + 1, poly.at(r.lr() * r.headLrMult(), it), lossSum / lossN, lossN * r.batch() / secs,
                                ev == null ? Double.NaN : ev.aAcc(), ev == null ? Double.NaN : ev.mIoU(), ev == null ? Double.NaN : ev.mAcc());
                        history.add(row);
                        say(String.format(Locale.ROOT, "iter %d/%d  lr %.3e  loss %.4f  %.2f img/s%s", it + 1, r.iters(), row.headLr(), row.loss(),
                                row.imagesPerS(), ev == null ? "" : String.format(Locale.ROOT, "  val aAcc %.2f mIoU %.2f mAcc %.2f",
                                        100 * ev.aAcc(), 100 * ev.mIoU(), 100 * ev.mAcc())));
                        saveState(statePath, config, it, m, opt, history);
                        writeCsv(runDir.resolve("metrics.csv"), history);
                        lossSum = 0;
                        lossN = 0;
                        t0 = System.nanoTime();
                    }
                }
            } finally {
                loaders.shutdownNow();
            }
            if (last == null) last = evaluateOnce(m, data, r);
            Map<String, Object> metrics = metrics(last, history, count, data.skipped());
            write(runDir.resolve("metrics.json"), TaskFile.JSON.writeValueAsString(metrics));
            SegMetrics.writeTables(last, runDir, data.classNames());
            Path taskFile = runDir.resolve(name + ".safetensors");
            writeTaskFile(taskFile, m, spec, data, name, config, metrics);
            say("task file: " + taskFile);
            say(String.format(Locale.ROOT, "val (final): aAcc %.2f  mIoU %.2f  mAcc %.2f", 100 * last.aAcc(), 100 * last.mIoU(), 100 * last.mAcc()));
            return new Summary(taskFile, metrics);
        }
    }

    private SegMetrics.Result evaluateOnce(SegModel m, SegInputs data, SegRecipe r) {
        try (DataParallel dp = new DataParallel(o.threads())) {
            return evaluate(m, data, dp, r);
        }
    }

    /** Slide inference on every validation image, predictions at the original size, mmseg's metrics. */
    public static SegMetrics.Result evaluate(SegModel m, SegInputs data, DataParallel dp, SegRecipe r) {
        SegMetrics metrics = new SegMetrics(data.numClasses(), data.reduceZeroLabel());
        for (int i = 0; i < data.valSize(); i++) {
            SegSample s = data.val(i);
            metrics.add(predict(m, s, dp, r.crop(), r.stride()), s.rawLabel(), s.oriHeight(), s.oriWidth());
        }
        return metrics.result();
    }

    /** The class map [oriH·oriW] of one test sample (slide inference, rescaled to the original size). */
    public static int[] predict(SegModel m, SegSample s, DataParallel dp, int crop, int stride) {
        try (PointerScope scope = new PointerScope()) {
            Tensor img = Tensors.fromFloats(s.image(), 1, 3, s.height(), s.width());
            SegModel.Slide sl = m.slide(img, crop, crop, stride, stride, s.oriHeight(), s.oriWidth(), dp);
            long[] p = Tensors.toLongs(sl.pred());
            int[] out = new int[p.length];
            for (int i = 0; i < p.length; i++) out[i] = (int) p[i];
            return out;
        }
    }

    /** Sample indices of iteration it: epoch e = it / bpe shuffled with seed (seed, e), drop_last. */
    static int[] batchIndices(int n, int bpe, int batch, long seed, int it) {
        int e = it / bpe, k = it % bpe;
        int[] perm = new int[n];
        for (int i = 0; i < n; i++) perm[i] = i;
        SplittableRandom g = new SplittableRandom(seed * 1_000_003L + e);
        for (int i = n - 1; i > 0; i--) {
            int j = g.nextInt(i + 1);
            int t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        int[] out = new int[batch];
        System.arraycopy(perm, k * batch, out, 0, batch);
        return out;
    }

    private static List<SegSample> load(ExecutorService pool, SegInputs data, int[] idx, long seed, int it) {
        List<Future<SegSample>> fs = new ArrayList<>();
        for (int j = 0; j < idx.length; j++) {
            long s = new SplittableRandom(seed ^ (0x9E3779B97F4A7C15L * (it + 1L))).split().nextLong() + j;
            int i = idx[j];
            fs.add(pool.submit(() -> data.train(i, s)));
        }
        List<SegSample> out = new ArrayList<>();
        try {
            for (Future<SegSample> f : fs) out.add(f.get());
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) throw re;
            throw new IllegalStateException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        return out;
    }

    static Tensor images(List<SegSample> b) {
        SegSample f = b.get(0);
        int per = f.image().length;
        float[] all = new float[per * b.size()];
        for (int i = 0; i < b.size(); i++) {
            SegSample s = b.get(i);
            if (s.height() != f.height() || s.width() != f.width())
                throw new IllegalStateException("training crops of different sizes in one batch: " + f.height() + "x" + f.width()
                        + " and " + s.height() + "x" + s.width());
            System.arraycopy(s.image(), 0, all, i * per, per);
        }
        return Tensors.fromFloats(all, b.size(), 3, f.height(), f.width());
    }

    static Tensor labels(List<SegSample> b) {
        SegSample f = b.get(0);
        int per = f.label().length;
        long[] all = new long[per * b.size()];
        for (int i = 0; i < b.size(); i++) {
            short[] l = b.get(i).label();
            for (int k = 0; k < per; k++) all[i * per + k] = l[k];
        }
        return Tensors.fromLongs(all, b.size(), f.height(), f.width());
    }

    private ObjectNode runConfig(String name, long trainable, SegSpec spec) {
        ObjectNode c = TaskFile.JSON.createObjectNode();
        c.put("name", name);
        c.put("task", "segmentation");
        c.put("data", o.data().toAbsolutePath().normalize().toString());
        c.put("checkpoint", o.checkpoint().toAbsolutePath().normalize().toString());
        if (o.heads().isPresent()) c.put("heads", o.heads().getAsInt());
        c.set("spec", SegTaskFile.specJson(spec));
        c.set("recipe", TaskFile.JSON.valueToTree(o.recipe()));
        c.put("threads", o.threads());
        c.put("skip_bad", o.skipBad());
        c.put("trainable_params", trainable);
        return c;
    }

    private static Map<String, Object> metrics(SegMetrics.Result last, List<Row> history, long trainable, int skipped) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("aAcc", last.aAcc());
        m.put("mIoU", last.mIoU());
        m.put("mAcc", last.mAcc());
        m.put("eval_aAcc", last.evalAAcc());
        m.put("eval_mIoU", last.evalMIoU());
        m.put("eval_mAcc", last.evalMAcc());
        double best = Double.NaN;
        int bestIter = -1;
        for (Row r : history) if (!Double.isNaN(r.mIoU()) && !(r.mIoU() <= best)) { best = r.mIoU(); bestIter = r.iter(); }
        m.put("mIoU_best", best);
        m.put("mIoU_best_iter", bestIter);
        m.put("iterations", history.isEmpty() ? 0 : history.get(history.size() - 1).iter());
        m.put("train_loss", history.isEmpty() ? Double.NaN : history.get(history.size() - 1).loss());
        m.put("trainable_params", trainable);
        m.put("skipped_samples", skipped);
        return m;
    }

    private void writeTaskFile(Path file, SegModel m, SegSpec spec, SegInputs data, String name, ObjectNode config, Map<String, Object> metrics) throws IOException {
        ObjectNode info = TaskFile.JSON.createObjectNode();
        info.put("format", SegTaskFile.FORMAT);
        info.put("name", name);
        info.put("method", spec.method());
        info.set("spec", SegTaskFile.specJson(spec));
        info.put("num_classes", data.numClasses());
        info.put("reduce_zero_label", data.reduceZeroLabel());
        info.set("classes", TaskFile.JSON.valueToTree(data.classNames()));
        info.set("palette", TaskFile.JSON.valueToTree(data.palette()));
        ObjectNode test = info.putObject("test");
        test.put("mode", "slide");
        test.put("crop", o.recipe().crop());
        test.put("stride", o.recipe().stride());
        test.set("img_scale", TaskFile.JSON.valueToTree(List.of(o.recipe().scaleLong(), o.recipe().scaleShort())));
        test.put("resize", "keep-ratio, cv2 INTER_LINEAR (fixed point); Normalize mean 123.675,116.28,103.53 std 58.395,57.12,57.375 to RGB");
        ObjectNode bb = info.putObject("backbone");
        bb.put("file", o.checkpoint().getFileName().toString());
        bb.put("path", o.checkpoint().toAbsolutePath().normalize().toString());
        bb.put("sha256", TaskFile.sha256(o.checkpoint()));
        bb.set("dims", TaskFile.JSON.valueToTree(m.backbone().config()));
        info.set("recipe", config.get("recipe"));
        info.put("data", config.get("data").asText());
        info.set("metrics", TaskFile.JSON.valueToTree(metrics));
        info.put("created", Instant.now().toString());
        new SegTaskFile(file, SegTaskFile.tensorsOf(m), info).write();
    }

    // ---------------------------------------------------------------- state

    private static void saveState(Path file, ObjectNode config, int iter, SegModel m, Sgd opt, List<Row> history) throws IOException {
        Map<String, HostTensor> t = new LinkedHashMap<>();
        try (PointerScope s = new PointerScope()) {
            m.trainableParameters().forEach((n, p) -> t.put("param/" + n, Tensors.toHost(p)));
            m.buffers().forEach((n, p) -> t.put("buffer/" + n, Tensors.toHost(p)));
            opt.saveState(t);
            byte[] rng = Tensors.toBytes(getDefaultCPUGenerator().get_state());
            t.put("rng/torch", new HostTensor(dev.cvpt.io.DType.U8, new long[]{rng.length}, java.nio.ByteBuffer.wrap(rng)));
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("iter", Integer.toString(iter));
        meta.put("sgd_steps", Long.toString(opt.stepCount()));
        meta.put("history", TaskFile.JSON.writeValueAsString(history));
        meta.put("config", TaskFile.JSON.writeValueAsString(config));
        try {
            Safetensors.write(file, t, meta);
        } catch (IOException e) {
            throw new UserException("cannot save the training state to " + file + ": " + e.getMessage() + "; the previous state (if any) is intact", e);
        }
    }

    private static int restore(Path file, ObjectNode config, SegModel m, Sgd opt, List<Row> history) {
        var st = Safetensors.read(file);
        Map<String, String> meta = st.metadata();
        try {
            JsonNode saved = TaskFile.JSON.readTree(meta.getOrDefault("config", "{}"));
            for (String k : new String[]{"spec", "recipe", "checkpoint", "data"})
                if (!saved.path(k).toString().equals(config.path(k).toString()))
                    throw new UserException(file + ": cannot resume: the run was started with " + k + " = " + saved.path(k) + ", now it is " + config.path(k));
            for (JsonNode r : TaskFile.JSON.readTree(meta.get("history")))
                history.add(TaskFile.JSON.treeToValue(r, Row.class));
        } catch (IOException | NullPointerException e) {
            throw new CheckpointException(file, null, "training state metadata is unreadable");
        }
        try (NoGradGuard g = new NoGradGuard()) {
            m.trainableParameters().forEach((n, p) -> Tensors.copyInto(p, file, st.tensors(), "param/" + n, "the training state"));
            m.buffers().forEach((n, p) -> Tensors.copyInto(p, file, st.tensors(), "buffer/" + n, "the training state"));
            opt.loadState(file, st.tensors(), opt.stateKinds());   // buffers exist after the first step only
        }
        HostTensor rng = st.tensors().get("rng/torch");
        if (rng == null) throw new CheckpointException(file, "rng/torch", "missing");
        byte[] b = new byte[rng.data().remaining()];
        rng.data().duplicate().get(b);
        getDefaultCPUGenerator().set_state(Tensors.fromBytes(b));
        opt.stepCount(Long.parseLong(meta.get("sgd_steps")));
        return Integer.parseInt(meta.get("iter"));
    }

    private static void writeCsv(Path file, List<Row> rows) throws IOException {
        StringBuilder sb = new StringBuilder("iter,head_lr,loss,images_per_s,aAcc,mIoU,mAcc\n");
        for (Row r : rows)
            sb.append(String.format(Locale.ROOT, "%d,%.6e,%.6f,%.3f,%s,%s,%s%n", r.iter(), r.headLr(), r.loss(), r.imagesPerS(),
                    num(r.aAcc()), num(r.mIoU()), num(r.mAcc())));
        write(file, sb.toString());
    }

    private static String num(double v) { return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.6f", v); }

    private static void write(Path file, String text) throws IOException {
        AtomicFiles.write(file, out -> out.write(text.getBytes(StandardCharsets.UTF_8)));
    }

    private void say(String line) {
        console.println(line);
        try {
            Files.writeString(o.runDir().resolve("train.log"), Instant.now() + "  " + line + System.lineSeparator(), StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            // the log is a convenience
        }
    }

}
