package dev.cvpt.spark;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cvpt.demo.Demo;
import dev.cvpt.serve.Predictor;
import dev.cvpt.synth.SyntheticTasks;
import dev.cvpt.train.Plan;
import dev.cvpt.train.TaskFile;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Spark jobs on an embedded local[2] Spark (2 task failures allowed): a sweep equals the
 * sequential runs, a task that fails after partial progress is retried and resumes to the same
 * numbers, and the Predict job gives the predictions of {@link Predictor}.
 */
class SparkJobsTest {
    @TempDir static Path tmp;
    static SparkSession spark;
    static final PrintStream QUIET = new PrintStream(OutputStream.nullOutputStream());

    @BeforeAll
    static void start() throws Exception {
        SyntheticTasks.write(tmp, "disk", 32, 3, 64, 0, 48, 2);
        Demo.shippedBackbone(tmp);
        spark = SparkSession.builder().master("local[2,2]").appName("cvpt-spark-test")
                .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate();
    }

    @AfterAll
    static void stop() {
        if (spark != null) spark.stop();
    }

    /** A 3-run plan (cvpt, vpt, linear; three seeds) writing to {@code outRoot}. */
    static Path plan(String outRoot) throws Exception {
        String common = "\"data\": \"disk\", \"checkpoint\": \"demo-vit.safetensors\", "
                + "\"recipe\": {\"epochs\": 3, \"batch\": 16, \"warmupEpochs\": 1, \"evalEvery\": 3, \"lr\": 2e-2}";
        String text = "{" + common + ", \"task\": \"a\", \"method\": \"cvpt\", \"options\": {\"prompts\": 4}, \"seed\": 1, \"out\": \"" + outRoot + "/r0\"}\n"
                + "{" + common + ", \"task\": \"b\", \"method\": \"vpt\", \"options\": {\"prompts\": 3}, \"seed\": 2, \"out\": \"" + outRoot + "/r1\"}\n"
                + "{" + common + ", \"task\": \"c\", \"method\": \"linear\", \"seed\": 3, \"out\": \"" + outRoot + "/r2\"}\n";
        Path p = tmp.resolve(outRoot + ".jsonl");
        Files.writeString(p, text);
        return p;
    }

    static JsonNode numbers(Path run) throws Exception {
        ObjectNode m = (ObjectNode) TaskFile.JSON.readTree(Files.readString(run.resolve("metrics.json")));
        m.remove(List.of("images_per_s", "train_seconds"));
        return m;
    }

    static synchronized void sequential() throws Exception {
        if (!Files.exists(tmp.resolve("seq/r2/metrics.json"))) Plan.sweep(Plan.read(plan("seq")), 0, 1, OptionalInt.empty(), QUIET);
    }

    @Test
    void sweepEqualsSequentialAndRetriesResume() throws Exception {
        sequential();
        List<JsonNode> m = SweepJob.run(spark, plan("spark"));
        assertEquals(3, m.size());
        for (int i = 0; i < 3; i++) {
            assertEquals(numbers(tmp.resolve("seq/r" + i)), numbers(tmp.resolve("spark/r" + i)), "run " + i);
            assertEquals(numbers(tmp.resolve("spark/r" + i)).get("test_top1"), m.get(i).get("test_top1"));
        }

        // every task's first attempt fails at epoch 2, after epoch 1's state was saved; the retry resumes
        spark.conf().set(SweepJob.FAIL_ONCE_AT_EPOCH, "2");
        try {
            SweepJob.run(spark, plan("retried"));
        } finally {
            spark.conf().unset(SweepJob.FAIL_ONCE_AT_EPOCH);
        }
        for (int i = 0; i < 3; i++) {
            Path run = tmp.resolve("retried/r" + i);
            String log = Files.readString(run.resolve("train.log"));
            assertTrue(log.contains("resuming " + run.toAbsolutePath() + " at epoch 2/3"), log);
            assertEquals(numbers(tmp.resolve("seq/r" + i)), numbers(run), "retried run " + i);
        }
    }

    @Test
    void predictJobGivesThePredictorsPredictions() throws Exception {
        sequential();
        Path images = SyntheticTasks.write(tmp.resolve("img"), "number", 32, 9, 0, 0, 300, 2).resolve("images/test");
        Path ckpt = tmp.resolve("demo-vit.safetensors");
        List<String> tasks = List.of(tmp.resolve("seq/r0/a.safetensors").toString(), tmp.resolve("seq/r1/b.safetensors").toString());
        String out = tmp.resolve("pred.parquet").toString();
        PredictJob.run(spark, PredictJob.folder(spark, images.toString(), "*.png"), new PredictJob.Settings(ckpt.toString(), tasks, 32, 3), out);
        List<Row> rows = spark.read().parquet(out).collectAsList();
        assertEquals(2 * 300, rows.size());

        Map<String, Row> byKey = new HashMap<>();
        for (Row r : rows) byKey.put(PredictJob.localPath(r.getString(0)).getFileName() + "/" + r.getString(1), r);
        int compared = 0;
        try (Predictor p = Predictor.load(ckpt)) {
            for (String t : tasks) p.addTask(Path.of(t));
            List<Path> files;
            try (Stream<Path> s = Files.list(images)) {
                files = s.sorted().toList();
            }
            for (Path f : files)
                for (String task : List.of("a", "b")) {
                    List<Predictor.Prediction> want = p.predict(task, f, 3);
                    Row got = byKey.get(f.getFileName() + "/" + task);
                    assertEquals(want.get(0).label(), got.getString(3), f + " " + task);
                    assertEquals(want.get(0).index(), got.getInt(2));
                    assertEquals(want.stream().map(Predictor.Prediction::label).toList(), got.getList(5), f + " " + task);
                    List<Double> probs = got.getList(6);
                    // one forward per batch of 32 instead of one per image: float32 rounding of the GEMMs differs slightly
                    for (int j = 0; j < 3; j++)
                        assertEquals(want.get(j).probability(), probs.get(j), 1e-6, f + " " + task + " probability " + j);
                    compared++;
                }
        }
        assertEquals(600, compared);

        // two task files with one task name would be indistinguishable in the output: refused
        Exception dup = org.junit.jupiter.api.Assertions.assertThrows(Exception.class, () -> PredictJob.run(spark,
                PredictJob.folder(spark, images.toString(), "00000*.png"), new PredictJob.Settings(ckpt.toString(), List.of(tasks.get(0), tasks.get(0)), 32, 3),
                tmp.resolve("dup.parquet").toString()));
        assertTrue(String.valueOf(dup.getMessage()).contains("its task name 'a' is also"), String.valueOf(dup.getMessage()));

        // a list of paths instead of a folder gives the same rows
        Path list = tmp.resolve("list.txt");
        try (Stream<Path> s = Files.list(images)) {
            Files.write(list, s.map(Path::toString).sorted().toList());
        }
        String out2 = tmp.resolve("pred-list.parquet").toString();
        PredictJob.run(spark, PredictJob.list(spark, list.toString()), new PredictJob.Settings(ckpt.toString(), tasks, 32, 3), out2);
        List<Row> rows2 = spark.read().parquet(out2).collectAsList();
        assertEquals(600, rows2.size());
        for (Row r : rows2) {
            Row a = byKey.get(Path.of(r.getString(0)).getFileName() + "/" + r.getString(1));
            assertEquals(a.getString(3), r.getString(3));
            assertEquals(a.getDouble(4), r.getDouble(4), 1e-6);
        }
    }
}
