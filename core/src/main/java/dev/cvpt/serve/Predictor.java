package dev.cvpt.serve;

import dev.cvpt.UserException;
import dev.cvpt.data.ImageDecoder;
import dev.cvpt.data.Loader;
import dev.cvpt.data.RgbImage;
import dev.cvpt.data.Transforms;
import dev.cvpt.engine.Native;
import dev.cvpt.engine.Tensors;
import dev.cvpt.io.Checkpoint;
import dev.cvpt.io.CheckpointException;
import dev.cvpt.model.Backbones;
import dev.cvpt.model.MethodSpec;
import dev.cvpt.model.TaskGroups;
import dev.cvpt.model.VisionTransformer;
import dev.cvpt.train.Evaluator;
import dev.cvpt.train.TaskFile;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

import static org.bytedeco.pytorch.global.torch.softmax;

/**
 * Inference on one backbone with any number of task files: the backbone is loaded once and shared
 * by every task (each task adds only its prompts and head).
 * <pre>{@code
 * try (Predictor p = Predictor.load(Path.of("ViT-B_16.npz"))) {
 *     p.addTask(Path.of("runs/cifar/cifar.safetensors"));
 *     List<Predictor.Prediction> top5 = p.predict("cifar", Path.of("cat.jpg"), 5);
 * }
 * }</pre>
 */
public final class Predictor implements AutoCloseable {
    /** A class and its probability. */
    public record Prediction(int index, String label, double probability) {
        /** As served and printed in JSON: {label, index, probability}. */
        public Map<String, Object> asMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("label", label);
            m.put("index", index);
            m.put("probability", probability);
            return m;
        }
    }

    /**
     * A loaded task: its file, description and model; {@code signature}: tasks with equal signatures
     * share a forward (see {@link TaskGroups#signature}); {@code cacheBytes}: its prompt cache (0: none).
     */
    public record Task(String name, TaskFile file, VisionTransformer model, Transforms.Transform transform,
                       String signature, long cacheBytes) {
        /** Top-k of this task's probabilities. */
        public List<Prediction> top(float[] p, int k) { return topK(p, k, file.classNames()); }

        /** The model input of an image: the task's eval transform, normalised, [3,S,S] flat. */
        public float[] input(RgbImage image) { return Transforms.toNormalizedFloats(transform.apply(image, null)); }
    }

    /** Default byte budget of the prompt caches of all tasks together. */
    public static final long DEFAULT_CACHE_BUDGET = 256L << 20;

    private final Backbones.Backbone backbone;
    private final String sha256;
    private final Map<String, Task> tasks = new LinkedHashMap<>();   // guarded by this
    private long cacheBudget = DEFAULT_CACHE_BUDGET, cacheBytes;      // guarded by this

    private Predictor(Backbones.Backbone backbone, String sha256) {
        this.backbone = backbone;
        this.sha256 = sha256;
    }

    public static Predictor load(Path checkpoint) { return load(checkpoint, OptionalInt.empty()); }

    public static Predictor load(Path checkpoint, OptionalInt heads) {
        Native.load();
        Checkpoint c = Checkpoint.load(checkpoint);
        return new Predictor(Backbones.backbone(checkpoint, c.tensors(), heads.isPresent() ? heads : c.heads()),
                TaskFile.sha256(checkpoint));
    }

    /** The backbone a task file was trained on: the given one, else its recorded path, else its file name beside the task. */
    public static Path backboneOf(TaskFile task, Path given) {
        if (given != null) return given;
        Path recorded = Path.of(task.info().path("backbone").path("path").asText(""));
        if (!recorded.toString().isEmpty() && java.nio.file.Files.exists(recorded)) return recorded;
        Path beside = task.file().toAbsolutePath().resolveSibling(task.info().path("backbone").path("file").asText(""));
        if (java.nio.file.Files.isRegularFile(beside)) return beside;
        throw new UserException(task.file() + ": its backbone " + recorded + " is not there; pass --checkpoint");
    }

    public Backbones.Backbone backbone() { return backbone; }

    /**
     * Byte budget of the prompt caches (see {@link VisionTransformer#cachePrompts}): a task loaded while
     * its cache would pass the budget is served uncached (same results, its input-free prompt pieces
     * computed in every forward); unloading a task frees its bytes for later loads. 0: no caches.
     */
    public synchronized void cacheBudget(long bytes) { this.cacheBudget = Math.max(0, bytes); }

    public synchronized long cacheBytes() { return cacheBytes; }

    /** Adds a task file (name = the task's name); the backbone must be the one it was trained on. */
    public Task addTask(Path taskFile) { return addTask(taskFile, null); }

    /**
     * Adds a task file under {@code name} (null: the task's own name, else its file name); the backbone
     * must be the one it was trained on. Replaces a task of the same name.
     */
    public Task addTask(Path taskFile, String name) {
        TaskFile tf = TaskFile.read(taskFile);
        String want = tf.info().path("backbone").path("sha256").asText("");
        if (!want.isEmpty() && !want.equals(sha256))
            throw new CheckpointException(taskFile, null, "was trained on another backbone (" + tf.info().path("backbone").path("file").asText()
                    + ", SHA-256 " + want.substring(0, 12) + "...) than " + backbone.file().getFileName() + " (" + sha256.substring(0, 12) + "...)");
        int img = backbone.config().img();
        if (tf.imageSize() > 0 && tf.imageSize() != img)
            throw new CheckpointException(taskFile, null, "preprocessing.size is " + tf.imageSize() + " but the backbone "
                    + backbone.file().getFileName() + " takes " + img + "x" + img + " images");
        MethodSpec spec = tf.spec();
        List<String> classes = tf.classNames();
        VisionTransformer vit;
        try {
            vit = Backbones.assemble(backbone, spec, Math.max(1, classes.size()));
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(taskFile, null, "task description: " + e.getMessage());
        }
        Map<String, Tensor> train = vit.savedParameters();   // trainables and frozen method tensors (E2VPT masks)
        Map<String, dev.cvpt.io.HostTensor> saved = new java.util.HashMap<>(tf.tensors());
        vit.method().aliases().forEach((alias, n) -> { if (!saved.containsKey(n) && saved.containsKey(alias)) saved.put(n, saved.get(alias)); });
        try (NoGradGuard g = new NoGradGuard()) {
            train.forEach((n, t) -> Tensors.copyInto(t, taskFile, saved, n, "the task file"));
        }
        train.values().forEach(t -> t.set_requires_grad(false));
        int size = tf.imageSize() > 0 ? tf.imageSize() : backbone.config().img();
        if (name == null) name = tf.name().isEmpty() ? stem(taskFile) : tf.name();
        synchronized (this) {
            vit.cachePrompts(cacheBudget > 0);
        }
        String signature = TaskGroups.signature(vit);   // one forward: also fills the prompt cache
        Task t;
        synchronized (this) {
            long bytes = vit.cachedPromptBytes();
            Task old = tasks.get(name);
            long freed = old == null ? 0 : old.cacheBytes();
            if (cacheBytes - freed + bytes > cacheBudget) {
                vit.cachePrompts(false);
                bytes = 0;
            }
            t = new Task(name, tf, vit, Transforms.byName(tf.transform(), size), signature, bytes);
            cacheBytes += bytes;
            Task replaced = tasks.put(name, t);
            if (replaced != null) free(replaced);
        }
        return t;
    }

    /**
     * Removes a task and frees its tensors; false when there is none. The caller makes sure no
     * forward of it is running (the {@link Batcher} removes tasks between batches).
     */
    public synchronized boolean removeTask(String name) {
        Task t = tasks.remove(name);
        if (t == null) return false;
        free(t);
        return true;
    }

    private void free(Task t) {   // under the lock
        cacheBytes -= t.cacheBytes();
        t.model().cachePrompts(false);
        t.model().trainableParameters().values().forEach(Tensor::close);
    }

    public synchronized boolean hasTask(String name) { return tasks.containsKey(name); }

    public synchronized Task task(String name) {
        Task t = tasks.get(name);
        if (t == null) throw new UserException("no task '" + name + "' (loaded: " + tasks.keySet() + ")");
        return t;
    }

    public synchronized List<Task> tasks() { return List.copyOf(tasks.values()); }

    public List<Prediction> predict(String task, Path image, int k) {
        return predict(task, ImageDecoder.decodeRgb(image), k);
    }

    /** Top-k classes with softmax probabilities (one forward of one image). */
    public List<Prediction> predict(String task, RgbImage image, int k) {
        Task t = task(task);
        return t.top(probabilities(List.of(t), List.of(t.input(image)), true).get(0), k);
    }

    /**
     * Softmax probabilities of each image (model inputs, [3,S,S] flat) under its task, in order.
     * Rows are ordered by task; with {@code mixTasks}, tasks of equal {@link Task#signature} share
     * one forward ({@link TaskGroups}), else each task gets a forward of its own.
     */
    public List<float[]> probabilities(List<Task> taskOfRow, List<float[]> inputs, boolean mixTasks) {
        int n = inputs.size();
        if (taskOfRow.size() != n) throw new IllegalArgumentException(taskOfRow.size() + " tasks for " + n + " images");
        // forwards: signature (or task) -> task -> rows, in first-seen order
        Map<Object, Map<Task, List<Integer>>> forwards = new LinkedHashMap<>();
        for (int r = 0; r < n; r++) {
            Task t = taskOfRow.get(r);
            forwards.computeIfAbsent(mixTasks ? t.signature() : t, x -> new LinkedHashMap<>())
                    .computeIfAbsent(t, x -> new ArrayList<>()).add(r);
        }
        float[][] out = new float[n][];
        int size = backbone.config().img();
        for (Map<Task, List<Integer>> fw : forwards.values()) {
            List<TaskGroups.Group> groups = new ArrayList<>();
            List<Integer> order = new ArrayList<>();
            fw.forEach((t, rows) -> {
                groups.add(new TaskGroups.Group(t.model(), rows.size()));
                order.addAll(rows);
            });
            float[] x = new float[order.size() * 3 * size * size];
            for (int j = 0; j < order.size(); j++) {
                float[] in = inputs.get(order.get(j));
                if (in.length != 3 * size * size)
                    throw new IllegalArgumentException("image " + order.get(j) + " has " + in.length + " values, want 3x" + size + "x" + size);
                System.arraycopy(in, 0, x, j * in.length, in.length);
            }
            try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
                List<Tensor> logits = TaskGroups.forward(groups, Tensors.fromFloats(x, order.size(), 3, size, size));
                int j = 0;
                for (Tensor l : logits) {
                    long k = l.size(1);
                    float[] p = Tensors.toFloats(softmax(l, 1));
                    for (int r = 0; r < l.size(0); r++, j++)
                        out[order.get(j)] = Arrays.copyOfRange(p, (int) (r * k), (int) ((r + 1) * k));
                }
            }
        }
        return Arrays.asList(out);
    }

    /** The k most probable classes of p, best first (ties: lower index first). */
    public static List<Prediction> topK(float[] p, int k, List<String> names) {
        Integer[] idx = new Integer[p.length];
        for (int i = 0; i < idx.length; i++) idx[i] = i;
        Arrays.sort(idx, (a, b) -> Float.compare(p[b], p[a]));
        List<Prediction> out = new ArrayList<>();
        for (int i = 0; i < Math.min(k, idx.length); i++)
            out.add(new Prediction(idx[i], idx[i] < names.size() ? names.get(idx[i]) : Integer.toString(idx[i]), p[idx[i]]));
        return out;
    }

    /** Top-1 of a task over a loader. */
    public Evaluator.Accuracy evaluate(String task, Loader loader) {
        return evaluate(task, loader, 1);
    }

    /** Top-1 of a task over a loader, each batch split over {@code workers} cores. */
    public Evaluator.Accuracy evaluate(String task, Loader loader, int workers) {
        try (dev.cvpt.engine.DataParallel dp = new dev.cvpt.engine.DataParallel(workers)) {
            return Evaluator.evaluate(task(task).model(), loader, dp);
        }
    }

    private static String stem(Path p) { return p.getFileName().toString().replaceFirst("\\.safetensors$", ""); }

    @Override
    public synchronized void close() {
        for (Task t : tasks.values()) t.model().cachePrompts(false);
        for (Task t : tasks.values()) t.model().namedParameters().values().forEach(Tensor::close);
        tasks.clear();
        backbone.params().values().forEach(Tensor::close);
    }
}
