package dev.cvpt.cli;

import dev.cvpt.demo.SegDemo;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** {@code cvpt demo --segmentation}: the segmentation demo, then {@code cvpt seg eval} on CVPT's saved task file. */
final class SegDemoRun {
    private SegDemoRun() {}

    static int run(Path out, Path checkpoint, int iters, long seed, int threads) throws Exception {
        SegDemo.Settings d = SegDemo.Settings.defaults(threads);
        SegDemo.Settings s = new SegDemo.Settings(d.train(), d.val(), iters, d.batch(), d.lr(), d.channels(), d.crop(), seed, threads);
        List<SegDemo.Cell> cells = SegDemo.run(out, checkpoint, s, System.err);
        System.out.print(Files.readString(out.resolve("seg-demo.md")));
        SegDemo.Cell cvpt = cells.stream().filter(c -> c.method().equals("cvpt")).findFirst().orElseThrow();
        Path data = out.resolve("data").resolve("shapes-seg");
        System.out.println("\nre-evaluating the saved CVPT task file: cvpt seg eval --data " + data + " --task " + cvpt.taskFile());
        return Main.execute("seg", "eval", "--data", data.toString(), "--task", cvpt.taskFile().toString(),
                "--threads", Integer.toString(threads));
    }
}
