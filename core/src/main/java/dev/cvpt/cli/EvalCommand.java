package dev.cvpt.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cvpt.data.Loader;
import dev.cvpt.engine.Native;
import dev.cvpt.io.AtomicFiles;
import dev.cvpt.serve.Predictor;
import dev.cvpt.train.DataSplits;
import dev.cvpt.train.Evaluator;
import dev.cvpt.train.TaskFile;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.Callable;

@Command(name = "eval", sortOptions = false,
        description = {"Top-1 accuracy of a task file on a dataset's test split (or val). Prints one JSON line;",
                "per-class accuracy goes to a CSV file."})
public final class EvalCommand implements Callable<Integer> {
    @Option(names = "--data", required = true, paramLabel = "DIR") Path data;
    @Option(names = "--task", required = true, paramLabel = "FILE", description = "A task file (<name>.safetensors) written by train.") Path task;
    @Option(names = "--checkpoint", paramLabel = "CKPT", description = "The backbone (default: the one recorded in the task file).") Path checkpoint;
    @Option(names = "--split", defaultValue = "test", description = "test or val (default: ${DEFAULT-VALUE}).") String split;
    @Option(names = "--per-class", paramLabel = "CSV", description = "Where to write per-class accuracy (default: <task>.<split>_per_class.csv beside the task file).")
    Path perClass;
    @Option(names = "--threads", defaultValue = "0") int threads;
    @Option(names = "--skip-bad") boolean skipBad;
    @Option(names = "--heads") Integer heads;
    @Mixin DebugOption debug;
    @Mixin PrecisionOption precisionOption;

    @Override
    public Integer call() throws Exception {
        precisionOption.apply();
        int t = TrainCommand.threadCount(threads);
        Native.configureThreads();
        TaskFile tf = TaskFile.read(task);
        Path ckpt = Predictor.backboneOf(tf, checkpoint);
        try (Predictor p = Predictor.load(ckpt, heads == null ? OptionalInt.empty() : OptionalInt.of(heads))) {
            Predictor.Task pt = p.addTask(task);
            DataSplits d = DataSplits.open(data, pt.transform().size(), split.equals("val"), skipBad);
            var ds = switch (split) {
                case "test" -> d.test();
                case "val" -> d.val();
                default -> throw new dev.cvpt.UserException("--split must be test or val, not " + split);
            };
            if (ds == null) throw new dev.cvpt.UserException(data + " has no " + split + " split");
            List<String> names = tf.classNames();
            if (d.numClasses() != names.size())
                throw new dev.cvpt.UserException(data + ": " + d.numClasses() + " classes, the task file has " + names.size());
            Evaluator.Accuracy acc;
            int skipped;
            try (Loader l = Loader.create(ds, d.evalTransform(), Loader.Options.eval(64, t).withSkipBad(skipBad))) {
                acc = p.evaluate(pt.name(), l, t);
                skipped = l.dataset().skipped();
            }
            Path csv = perClass != null ? perClass
                    : task.toAbsolutePath().resolveSibling(pt.name() + "." + split + "_per_class.csv");
            StringBuilder sb = new StringBuilder("class,name,correct,total,top1\n");
            for (int c = 0; c < names.size(); c++)
                sb.append(String.format(Locale.ROOT, "%d,%s,%d,%d,%.4f%n", c, names.get(c).replace(",", ";"),
                        acc.classCorrect()[c], acc.classTotal()[c], acc.classTop1(c)));
            AtomicFiles.write(csv, out -> out.write(sb.toString().getBytes(StandardCharsets.UTF_8)));
            Map<String, Object> out = new LinkedHashMap<>();
            out.put(split + "_top1", acc.top1());
            out.put("correct", acc.correct());
            out.put("total", acc.total());
            if (skipBad) out.put("skipped", skipped);
            out.put("task", pt.name());
            out.put("per_class", csv.toString());
            System.out.println(new ObjectMapper().writeValueAsString(out));
        }
        return Main.OK;
    }
}
