package dev.cvpt.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cvpt.UserException;
import dev.cvpt.engine.DataParallel;
import dev.cvpt.engine.Native;
import dev.cvpt.model.seg.SegModel;
import dev.cvpt.train.TaskFile;
import dev.cvpt.train.seg.SegInputs;
import dev.cvpt.train.seg.SegMetrics;
import dev.cvpt.train.seg.SegRecipe;
import dev.cvpt.train.seg.SegTaskFile;
import dev.cvpt.train.seg.SegTrainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "eval", sortOptions = false,
        description = {"aAcc, mIoU and mAcc (mmseg v0.15 semantics) of a segmentation task file on a dataset split, by slide",
                "inference with the task's test settings. Prints one JSON line; the per-class IoU/Acc table goes to",
                "<out>/per_class.{md,csv,json}."})
public final class SegEvalCommand implements Callable<Integer> {
    @Option(names = "--data", required = true, paramLabel = "DIR") Path data;
    @Option(names = "--task", required = true, paramLabel = "FILE", description = "A segmentation task file written by seg train.") Path task;
    @Option(names = "--split", defaultValue = "validation", description = "validation or training (default: ${DEFAULT-VALUE}).") String split;
    @Option(names = "--out", paramLabel = "DIR", description = "Where the per-class tables go (default: <task>.<split>/ beside the task file).") Path out;
    @Mixin BackboneOptions backbone;
    @Mixin ThreadsOption threads;
    @Mixin SkipBadOption skipBad;
    @Mixin DebugOption debug;

    @Override
    public Integer call() throws Exception {
        Native.configureThreads();
        SegTaskFile tf = SegTaskFile.read(task);
        Path ckpt = tf.backbone(backbone.checkpoint);
        SegRecipe r = TaskFile.JSON.treeToValue(tf.info().get("recipe"), SegRecipe.class);
        SegModel m = tf.load(ckpt, backbone.headsOpt());
        Path dir = out != null ? out : task.toAbsolutePath().resolveSibling(tf.name() + "." + split);
        try (SegInputs in = SegInputs.openEval(data, split, r, skipBad.skipBad, threads.count());
             DataParallel dp = new DataParallel(threads.count())) {
            if (in.numClasses() != m.spec().numClasses())
                throw new UserException(data + ": " + in.numClasses() + " classes, the task file has " + m.spec().numClasses());
            SegMetrics.Result res = SegTrainer.evaluate(m, in, dp, r);
            SegMetrics.writeTables(res, dir, in.classNames());
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("aAcc", res.aAcc());
            o.put("mIoU", res.mIoU());
            o.put("mAcc", res.mAcc());
            o.put("eval_aAcc", res.evalAAcc());
            o.put("eval_mIoU", res.evalMIoU());
            o.put("eval_mAcc", res.evalMAcc());
            o.put("images", in.valSize());
            if (skipBad.skipBad) o.put("skipped", in.skipped());
            o.put("task", tf.name());
            o.put("per_class", dir.toString());
            System.out.println(new ObjectMapper().writeValueAsString(o));
        }
        return Main.OK;
    }
}
