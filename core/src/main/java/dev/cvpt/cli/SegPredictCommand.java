package dev.cvpt.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cvpt.UserException;
import dev.cvpt.data.seg.BgrImage;
import dev.cvpt.data.seg.Palette;
import dev.cvpt.data.seg.SegPipeline;
import dev.cvpt.data.seg.SegSample;
import dev.cvpt.engine.DataParallel;
import dev.cvpt.engine.Native;
import dev.cvpt.model.seg.SegModel;
import dev.cvpt.train.TaskFile;
import dev.cvpt.train.seg.SegRecipe;
import dev.cvpt.train.seg.SegTaskFile;
import dev.cvpt.train.seg.SegTrainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "predict", sortOptions = false,
        description = {"Segment images with a task file (the task's test pipeline and slide inference): one colour-mapped PNG",
                "mask per image (the task's palette: ADE20K's for ADE20K) in --out, optionally an overlay on the image.",
                "Prints one JSON line per image (file, mask, size, the classes present with their pixel share)."})
public final class SegPredictCommand implements Callable<Integer> {
    @Option(names = "--task", required = true, paramLabel = "FILE") Path task;
    @Option(names = "--out", defaultValue = "masks", paramLabel = "DIR", description = "Default: ${DEFAULT-VALUE}.") Path out;
    @Option(names = "--overlay", description = "Also write <name>_overlay.png: the mask blended over the image.") boolean overlay;
    @Parameters(arity = "1..*", paramLabel = "IMAGE") List<Path> images;
    @Mixin BackboneOptions backbone;
    @Mixin ThreadsOption threads;
    @Mixin DebugOption debug;

    @Override
    public Integer call() throws Exception {
        Native.configureThreads();
        SegTaskFile tf = SegTaskFile.read(task);
        SegRecipe r = TaskFile.JSON.treeToValue(tf.info().get("recipe"), SegRecipe.class);
        SegModel m = tf.load(tf.backbone(backbone.checkpoint), backbone.headsOpt());
        int[][] palette = tf.palette();
        List<String> names = tf.classNames();
        SegPipeline pipe = new SegPipeline(dev.cvpt.data.seg.SegPipelineConfig.ade20k().withCrop(r.crop(), r.crop())
                .withScale(r.scaleLong(), r.scaleShort()));
        Files.createDirectories(out);
        ObjectMapper json = new ObjectMapper();
        try (DataParallel dp = new DataParallel(threads.count())) {
            for (Path img : images) {
                if (!Files.isRegularFile(img)) throw new UserException(img + ": no such image");
                BgrImage bgr = BgrImage.decode(img);
                SegSample s = pipe.test(0, bgr, null);
                int[] pred = SegTrainer.predict(m, s, dp, r.crop(), r.stride());
                String stem = img.getFileName().toString().replaceFirst("\\.[^.]+$", "");
                Path mask = out.resolve(stem + ".png");
                Palette.writeMask(pred, s.oriHeight(), s.oriWidth(), palette, mask);
                Map<String, Object> line = new LinkedHashMap<>();
                line.put("file", img.toString());
                line.put("mask", mask.toString());
                if (overlay) {
                    Path ov = out.resolve(stem + "_overlay.png");
                    Palette.writeOverlay(bgr.toRgb(), pred, palette, ov);
                    line.put("overlay", ov.toString());
                }
                line.put("height", s.oriHeight());
                line.put("width", s.oriWidth());
                long[] count = new long[names.size()];
                for (int p : pred) count[p]++;
                Map<String, Double> present = new LinkedHashMap<>();
                for (int c = 0; c < count.length; c++)
                    if (count[c] > 0) present.put(names.get(c), Math.round(1e4 * count[c] / (double) pred.length) / 1e4);
                line.put("classes", present);
                System.out.println(json.writeValueAsString(line));
            }
        }
        return Main.OK;
    }
}
