package dev.cvpt.spark;

import dev.cvpt.cli.Main;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code spark-submit --class dev.cvpt.spark.SparkMain cvpt-spark-*-all.jar sweep|predict ...}.
 * Without a master from spark-submit, Spark runs embedded on {@code local[*]}.
 */
@Command(name = "cvpt-spark", mixinStandardHelpOptions = true, subcommands = {SparkMain.Sweep.class, SparkMain.Predict.class},
        description = "cvpt jobs on Apache Spark: a sweep plan (one line per task) and batch prediction to Parquet.")
public final class SparkMain implements Runnable {
    @Override
    public void run() { new CommandLine(this).usage(System.out); }

    public static void main(String[] args) {
        System.exit(new CommandLine(new SparkMain()).setExecutionExceptionHandler((ex, cmd, parsed) -> {
            cmd.getErr().println("cvpt-spark: " + (ex instanceof dev.cvpt.UserException ? "error: " : "failed: ") + ex.getMessage());
            return ex instanceof dev.cvpt.UserException ? Main.BAD_INPUT : Main.FAILED;
        }).execute(args));
    }

    static SparkSession session(String name) {
        SparkSession.Builder b = SparkSession.builder().appName(name);
        if (!new org.apache.spark.SparkConf().contains("spark.master")) b = b.master("local[*]");
        return b.getOrCreate();
    }

    @Command(name = "sweep", description = "Run a sweep plan (see cvpt sweep), one plan line per Spark task; prints each line's metrics.")
    static final class Sweep implements Callable<Integer> {
        @Option(names = "--plan", required = true, paramLabel = "PLAN.jsonl", description = "On storage every node sees, as the runs' out folders.") Path plan;

        @Override
        public Integer call() throws Exception {
            SparkSession spark = session("cvpt sweep " + plan.getFileName());
            try {
                for (var m : SweepJob.run(spark, plan)) System.out.println(m);
            } finally {
                spark.stop();
            }
            return Main.OK;
        }
    }

    @Command(name = "predict", description = "Predictions of one or more tasks for many images, as Parquet.")
    static final class Predict implements Callable<Integer> {
        @Option(names = "--checkpoint", required = true, paramLabel = "CKPT") String checkpoint;
        @Option(names = "--task", required = true, paramLabel = "FILE", description = "A task file (repeat for several).") List<String> tasks;
        @Option(names = "--images", paramLabel = "DIR", description = "A folder of images, read with Spark's binaryFile source.") String images;
        @Option(names = "--glob", paramLabel = "PATTERN", description = "With --images: file names to take, e.g. *.png.") String glob;
        @Option(names = "--list", paramLabel = "FILE", description = "A text file of image paths, one per line.") String list;
        @Option(names = "--out", required = true, paramLabel = "DIR", description = "Parquet output folder (must not exist).") String out;
        @Option(names = "--batch", defaultValue = "32", description = "Images per forward (default: ${DEFAULT-VALUE}).") int batch;
        @Option(names = "--top", defaultValue = "5") int top;

        @Override
        public Integer call() {
            if ((images == null) == (list == null)) throw new dev.cvpt.UserException("give either --images DIR or --list FILE");
            SparkSession spark = session("cvpt predict");
            try {
                var in = images != null ? PredictJob.folder(spark, images, glob) : PredictJob.list(spark, list);
                PredictJob.run(spark, in, new PredictJob.Settings(checkpoint, tasks, batch, top), out);
            } finally {
                spark.stop();
            }
            return Main.OK;
        }
    }
}
