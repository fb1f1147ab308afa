package dev.cvpt.spark;

import dev.cvpt.data.ImageDecoder;
import dev.cvpt.data.RgbImage;
import dev.cvpt.data.Transforms;
import dev.cvpt.engine.Tensors;
import dev.cvpt.serve.Predictor;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.ConcurrentHashMap;

import static org.bytedeco.pytorch.global.torch.softmax;

/**
 * Batch inference on Spark: images (a folder through Spark's {@code binaryFile} source, or a text
 * file listing image paths) → one row per image and task: path, task, top-1 index, label and
 * probability, and the top-k labels and probabilities; written as Parquet.
 *
 * <p>Each executor JVM loads the backbone and the task files once ({@link #predictor}) and its tasks
 * share them; a partition is run in fixed-size batches of {@code batch} images (the last one
 * smaller), one forward per batch and task, as {@link Predictor#predict} does for one image
 * (same transform, same normalisation, softmax of the logits).
 */
public final class PredictJob {
    /** The job's settings (paths must be readable from every executor). */
    public record Settings(String checkpoint, List<String> tasks, int batch, int top) implements Serializable {
        public Settings {
            if (batch < 1) throw new IllegalArgumentException("batch must be at least 1");
            if (top < 1) throw new IllegalArgumentException("top must be at least 1");
            if (tasks.isEmpty()) throw new IllegalArgumentException("at least one task file");
            tasks = List.copyOf(tasks);
        }
    }

    public static final StructType SCHEMA = new StructType()
            .add("path", DataTypes.StringType, false)
            .add("task", DataTypes.StringType, false)
            .add("index", DataTypes.IntegerType, false)
            .add("label", DataTypes.StringType, false)
            .add("probability", DataTypes.DoubleType, false)
            .add("top_labels", DataTypes.createArrayType(DataTypes.StringType, false), false)
            .add("top_probabilities", DataTypes.createArrayType(DataTypes.DoubleType, false), false);

    private static final Map<Settings, Predictor> PREDICTORS = new ConcurrentHashMap<>();

    private PredictJob() {}

    /** The images of a folder (recursively; {@code glob} filters file names, e.g. "*.png") as (path, content). */
    public static Dataset<Row> folder(SparkSession spark, String dir, String glob) {
        var r = spark.read().format("binaryFile").option("recursiveFileLookup", "true");
        if (glob != null) r = r.option("pathGlobFilter", glob);
        return r.load(dir).select("path", "content");
    }

    /** The images listed in a text file, one path per line, as (path, content = null: read on the executor). */
    public static Dataset<Row> list(SparkSession spark, String listFile) {
        return spark.read().textFile(listFile).filter((org.apache.spark.api.java.function.FilterFunction<String>) s -> !s.isBlank())
                .selectExpr("trim(value) as path", "cast(null as binary) as content");
    }

    /** Predictions of every task for every image. */
    public static Dataset<Row> predict(Dataset<Row> images, Settings s) {
        return images.mapPartitions((MapPartitionsFunction<Row, Row>) rows -> run(rows, s), Encoders.row(SCHEMA));
    }

    /** The backbone and tasks of this executor JVM, loaded by the first task that needs them. */
    static Predictor predictor(Settings s) {
        return PREDICTORS.computeIfAbsent(s, k -> {
            Executors.prepare();
            Predictor p = Predictor.load(Path.of(k.checkpoint()), OptionalInt.empty());
            java.util.Map<String, String> seen = new java.util.HashMap<>();
            for (String t : k.tasks()) {
                String name = p.addTask(Path.of(t)).name();
                String other = seen.put(name, t);
                if (other != null) {
                    p.close();
                    throw new dev.cvpt.UserException(t + ": its task name '" + name + "' is also " + other
                            + "'s; the output's task column would not tell them apart (rename one with train --name)");
                }
            }
            return p;
        });
    }

    private static Iterator<Row> run(Iterator<Row> rows, Settings s) {
        Predictor p = predictor(s);
        List<Row> out = new ArrayList<>();
        List<String> paths = new ArrayList<>(s.batch());
        List<RgbImage> images = new ArrayList<>(s.batch());
        while (rows.hasNext()) {
            Row r = rows.next();
            String path = r.getString(0);
            byte[] content = r.isNullAt(1) ? null : (byte[]) r.get(1);
            paths.add(path);
            images.add(decode(path, content));
            if (images.size() == s.batch() || !rows.hasNext()) {
                for (Predictor.Task t : p.tasks()) out.addAll(batch(t, paths, images, s.top()));
                paths.clear();
                images.clear();
            }
        }
        return out.iterator();
    }

    private static RgbImage decode(String path, byte[] content) {
        try {
            Path local = localPath(path);
            return content != null ? ImageDecoder.decodeRgb(content, local) : ImageDecoder.decodeRgb(local);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(path + ": " + e.getMessage(), e);
        }
    }

    static Path localPath(String path) {
        return path.startsWith("file:") ? Path.of(java.net.URI.create(path)) : Path.of(path);
    }

    /** One forward of a batch for one task: the rows of {@link #SCHEMA}. */
    static List<Row> batch(Predictor.Task t, List<String> paths, List<RgbImage> images, int top) {
        int n = images.size(), size = t.transform().size(), per = 3 * size * size;
        float[] x = new float[n * per];
        for (int i = 0; i < n; i++) Transforms.toNormalizedFloats(t.transform().apply(images.get(i), null), x, i * per);
        float[] prob;
        int classes;
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            Tensor logits = t.model().forward(Tensors.fromFloats(x, n, 3, size, size), false);
            classes = (int) logits.size(1);
            prob = Tensors.toFloats(softmax(logits, 1));
        }
        List<String> names = t.file().classNames();
        List<Row> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int base = i * classes;
            Integer[] idx = new Integer[classes];
            for (int c = 0; c < classes; c++) idx[c] = c;
            float[] pr = prob;
            Arrays.sort(idx, (a, b) -> Float.compare(pr[base + b], pr[base + a]));   // as Predictor.predict orders them
            int k = Math.min(top, classes);
            String[] labels = new String[k];
            Double[] ps = new Double[k];
            for (int j = 0; j < k; j++) {
                labels[j] = idx[j] < names.size() ? names.get(idx[j]) : Integer.toString(idx[j]);
                ps[j] = (double) prob[base + idx[j]];
            }
            out.add(RowFactory.create(paths.get(i), t.name(), idx[0], labels[0], ps[0], labels, ps));
        }
        return out;
    }

    /** Reads, predicts and writes Parquet to {@code out}. */
    public static void run(SparkSession spark, Dataset<Row> images, Settings s, String out) {
        predict(images, s).write().mode("errorifexists").parquet(out);
    }

    static boolean exists(String p) { return Files.exists(localPath(p)); }
}
