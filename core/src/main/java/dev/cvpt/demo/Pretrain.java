package dev.cvpt.demo;

import dev.cvpt.io.HostTensor;
import dev.cvpt.io.Safetensors;
import dev.cvpt.model.MethodSpec;
import dev.cvpt.model.VitConfig;
import dev.cvpt.synth.SyntheticTasks;
import dev.cvpt.train.Recipe;
import dev.cvpt.train.TaskFile;
import dev.cvpt.train.Trainer;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalInt;

/**
 * Makes the demo backbone: a small ViT trained from scratch (full training) on the synthetic
 * {@code shapes} task (shape kind x hue band of 1..3 objects; not one of the demo's tasks), then saved without its head as
 * a timm-named safetensors file, the heads count in its metadata.
 */
public final class Pretrain {
    /** The shipped demo backbone's shape: 32 px images, 4-px patches (64 patches), width 64, 4 blocks, 4 heads. */
    public static final VitConfig DEMO = new VitConfig(64, 4, 4, 4, 32, 256);

    private Pretrain() {}

    public record Settings(VitConfig vit, int images, int epochs, double lr, long seed, int threads, RandomVit.Init init) {}

    public static Path run(Settings s, Path out, Path workDir, PrintStream log) throws IOException {
        Files.createDirectories(workDir);
        Path data = SyntheticTasks.write(workDir.resolve("data"), "shapes", s.vit().img(), s.seed(), s.images(), 0,
                Math.max(320, s.images() / 10), s.threads());
        Path init = workDir.resolve("init.safetensors");
        Safetensors.write(init, RandomVit.init(s.vit(), s.seed(), s.init()), Map.of("heads", Integer.toString(s.vit().heads())));
        Path run = workDir.resolve("run");
        Recipe recipe = new Recipe(s.epochs(), 64, s.lr(), 0.05, Math.max(1, s.epochs() / 10), 0.1, 0.0, s.seed(), Math.max(1, s.epochs() / 5));
        Trainer.Summary sum = Trainer.run(new Trainer.Options(data, init, run, new MethodSpec("full", 3, 1, true, 0), recipe,
                s.threads(), false, false, OptionalInt.of(s.vit().heads()), "shapes", false), Files.exists(run.resolve(Trainer.STATE)), log);
        TaskFile trained = TaskFile.read(sum.taskFile());
        Map<String, HostTensor> backbone = new LinkedHashMap<>();
        trained.tensors().forEach((n, t) -> { if (!n.startsWith("head.")) backbone.put(n, t); });
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("heads", Integer.toString(s.vit().heads()));
        meta.put("made_by", "cvpt pretrain: full training from a random init on the synthetic 'shapes' task");
        meta.put("pretrain_test_top1", String.valueOf(sum.metrics().get("test_top1")));
        meta.put("settings", s.toString());
        Safetensors.write(out, backbone, meta);
        return out;
    }
}
