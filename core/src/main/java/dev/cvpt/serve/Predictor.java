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
    public record Prediction(int index, String label, double probability) {}

    /** A loaded task: its file, description and model. */
    public record Task(String name, TaskFile file, VisionTransformer model, Transforms.Transform transform) {}

    private final Backbones.Backbone backbone;
    private final String sha256;
    private final Map<String, Task> tasks = new LinkedHashMap<>();

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

    /** Adds a task file (name = the task's name); the backbone must be the one it was trained on. */
    public Task addTask(Path taskFile) {
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
        VisionTransformer vit = Backbones.assemble(backbone, spec, Math.max(1, classes.size()));
        Map<String, Tensor> train = vit.trainableParameters();
        try (NoGradGuard g = new NoGradGuard()) {
            train.forEach((n, t) -> Tensors.copyInto(t, taskFile, tf.tensors(), n, "the task file"));
        }
        train.values().forEach(t -> t.set_requires_grad(false));
        int size = tf.imageSize() > 0 ? tf.imageSize() : backbone.config().img();
        Task t = new Task(tf.name().isEmpty() ? stem(taskFile) : tf.name(), tf, vit, Transforms.byName(tf.transform(), size));
        tasks.put(t.name(), t);
        return t;
    }

    public Task task(String name) {
        Task t = tasks.get(name);
        if (t == null) throw new UserException("no task '" + name + "' (loaded: " + tasks.keySet() + ")");
        return t;
    }

    public List<Task> tasks() { return List.copyOf(tasks.values()); }

    public List<Prediction> predict(String task, Path image, int k) {
        return predict(task, ImageDecoder.decodeRgb(image), k);
    }

    /** Top-k classes with softmax probabilities. */
    public List<Prediction> predict(String task, RgbImage image, int k) {
        Task t = task(task);
        float[] x = Transforms.toNormalizedFloats(t.transform().apply(image, null));
        int size = t.transform().size();
        float[] p;
        try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            Tensor logits = t.model().forward(Tensors.fromFloats(x, 1, 3, size, size), false);
            p = Tensors.toFloats(softmax(logits, 1));
        }
        List<String> names = t.file().classNames();
        List<Prediction> out = new ArrayList<>();
        Integer[] idx = new Integer[p.length];
        for (int i = 0; i < idx.length; i++) idx[i] = i;
        Arrays.sort(idx, (a, b) -> Float.compare(p[b], p[a]));
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
    public void close() {
        for (Task t : tasks.values()) t.model().namedParameters().values().forEach(Tensor::close);
        tasks.clear();
        backbone.params().values().forEach(Tensor::close);
    }
}
