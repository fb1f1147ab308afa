package dev.cvpt.spark;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cvpt.train.Plan;
import dev.cvpt.train.Runs;
import dev.cvpt.train.TaskFile;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.Serializable;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A sweep plan on Spark: one plan line per Spark task (one partition each), run on the executors
 * with {@link Runs#runOrResume}. Run folders (the plan's {@code out} paths) must be on storage that
 * every node sees; a task that fails and is retried (spark.task.maxFailures) finds the training
 * state its first attempt saved after each epoch and resumes from it instead of starting over, and
 * a finished line is skipped. Returns each line's metrics.json in plan order.
 */
public final class SweepJob {
    /** A plan line as shipped to an executor. */
    record Item(int index, String where, String json, String base) implements Serializable {}

    /** Fault injection for tests: the first attempt of every task fails once this epoch (1-based) is logged; 0: never. */
    public static final String FAIL_ONCE_AT_EPOCH = "cvpt.sweep.failOnceAtEpoch";

    private SweepJob() {}

    public static List<JsonNode> run(SparkSession spark, Path plan) throws IOException {
        List<Item> items = new ArrayList<>();
        for (Plan.Line l : Plan.read(plan))   // every line is checked on the driver before anything runs
            items.add(new Item(l.index(), l.where(), l.json(), l.base().toString()));
        int failAt = Integer.parseInt(spark.conf().get(FAIL_ONCE_AT_EPOCH, "0"));
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        List<String> out = jsc.parallelize(items, items.size()).map(it -> runLine(it, failAt)).collect();
        List<JsonNode> metrics = new ArrayList<>();
        for (String s : out) metrics.add(TaskFile.JSON.readTree(s));
        return metrics;
    }

    static String runLine(Item it, int failAt) throws IOException {
        Executors.prepare();
        var options = Plan.parse(it.json(), Path.of(it.base()), it.where());
        TaskContext tc = TaskContext.get();
        boolean inject = failAt > 0 && tc != null && tc.attemptNumber() == 0;
        PrintStream log = inject ? failingAt(failAt, it.where()) : System.err;
        return Runs.runOrResume(options, log).toString();
    }

    /** A log that throws when the trainer reports epoch {@code epoch} (whose state is saved right after: the one before is kept). */
    private static PrintStream failingAt(int epoch, String where) {
        return new PrintStream(OutputStream.nullOutputStream()) {
            @Override
            public void println(String line) {
                System.err.println(line);
                if (line.startsWith("epoch " + epoch + "/"))
                    throw new IllegalStateException("injected failure at epoch " + epoch + " of " + where + " (" + FAIL_ONCE_AT_EPOCH + ")");
            }
        };
    }
}
