package dev.cvpt.cli;

import dev.cvpt.UserException;
import dev.cvpt.synth.SegSynth;
import dev.cvpt.synth.SyntheticTasks;
import dev.cvpt.synth.TaskSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "synth", sortOptions = false,
        description = {"Write synthetic image-classification tasks in the VTAB-1k (NOAH) layout:",
                "OUT/TASK/images/{train,val,test}/NNNNNN.png and the list files train800.txt (the train part),",
                "val200.txt (val), train800val200.txt (both) and test.txt, whatever the counts.",
                "Deterministic: the same options give the same bytes. A folder that already holds the same",
                "parameters is kept as it is.",
                "With --segmentation: the synthetic segmentation task in the ADE20K layout instead,",
                "OUT/images/{training,validation}/NNNNNN.png, OUT/annotations/{training,validation}/NNNNNN.png",
                "(8-bit grey raw ids: 0 other, 1 disk, 2 square, 3 triangle, 4 bar) and OUT/dataset.json;",
                "--train and --val give the counts, image sides are drawn in --min-side..--max-side."})
public final class SynthCommand implements Callable<Integer> {
    @Option(names = "--task", split = ",", paramLabel = "NAME", completionCandidates = TaskNames.class,
            description = "Task(s), comma-separated, or 'all': ${COMPLETION-CANDIDATES}.")
    List<String> tasks;

    @Option(names = "--size", paramLabel = "PX", defaultValue = "48", description = "Image side in pixels (default: ${DEFAULT-VALUE}).")
    int size;

    @Option(names = "--train", paramLabel = "N", defaultValue = "800", description = "Training images (default: ${DEFAULT-VALUE}).")
    int train;

    @Option(names = "--val", paramLabel = "N", defaultValue = "200", description = "Validation images (default: ${DEFAULT-VALUE}).")
    int val;

    @Option(names = "--test", paramLabel = "N", defaultValue = "1000", description = "Test images (default: ${DEFAULT-VALUE}).")
    int test;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "0", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--out", paramLabel = "DIR", description = "Output folder; each task goes to DIR/TASK.")
    Path out;

    @Option(names = "--threads", paramLabel = "N", description = "Worker threads (default: the number of cores, at most 8); does not change the output.")
    Integer threads;

    @Option(names = "--segmentation", description = "Write the synthetic segmentation task (ADE20K layout) into --out.")
    boolean segmentation;

    @Option(names = "--min-side", paramLabel = "PX", defaultValue = "64", description = "With --segmentation: smallest image side (default: ${DEFAULT-VALUE}).")
    int minSide;

    @Option(names = "--max-side", paramLabel = "PX", defaultValue = "96", description = "With --segmentation: largest image side (default: ${DEFAULT-VALUE}).")
    int maxSide;

    @Option(names = "--list", description = "List the tasks and exit.")
    boolean list;

    @Mixin DebugOption debug;

    @Override
    public Integer call() throws Exception {
        if (list) {
            for (String n : SyntheticTasks.names()) {
                TaskSpec s = SyntheticTasks.spec(n);
                System.out.printf("%-12s %2d classes  %s%n", n, s.classes(), s.description());
            }
            return Main.OK;
        }
        if (segmentation) {
            if (out == null) throw new UserException("--out is required");
            if (tasks != null && !tasks.isEmpty()) throw new UserException("--task does not apply to --segmentation");
            long t0 = System.nanoTime();
            Path dir = SegSynth.write(out, train, val, seed, minSide, maxSide);
            System.out.printf("segmentation: %d classes (+ other = 0, reduce_zero_label), %d..%d px, %d training + %d validation -> %s (%.1f s)%n",
                    SegSynth.CLASSES.size(), minSide, maxSide, train, val, dir, (System.nanoTime() - t0) / 1e9);
            return Main.OK;
        }
        if (tasks == null || tasks.isEmpty()) throw new UserException("--task is required (or --list, or --segmentation)");
        if (out == null) throw new UserException("--out is required");
        List<String> names = tasks.size() == 1 && tasks.get(0).equals("all") ? SyntheticTasks.names() : tasks;
        for (String n : names) SyntheticTasks.spec(n);          // fail on a typo before writing anything
        int nThreads = threads != null ? threads : SyntheticTasks.defaultThreads();
        for (String n : names) {
            boolean kept = SyntheticTasks.isUpToDate(out, n, size, seed, train, val, test);
            long t0 = System.nanoTime();
            Path dir = SyntheticTasks.write(out, n, size, seed, train, val, test, nThreads);
            double sec = (System.nanoTime() - t0) / 1e9;
            int total = train + val + test;
            System.out.printf("%s: %d classes, %d px, %d train + %d val + %d test -> %s (%s)%n", n,
                    SyntheticTasks.spec(n).classes(), size, train, val, test, dir,
                    kept ? "up to date, kept" : String.format("wrote in %.1f s, %.0f images/s", sec, total / Math.max(sec, 1e-9)));
        }
        return Main.OK;
    }

    /** The task names, for picocli's completion and help. */
    static final class TaskNames implements Iterable<String> {
        @Override
        public Iterator<String> iterator() { return SyntheticTasks.names().iterator(); }
    }
}
