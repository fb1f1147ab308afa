package dev.cvpt.cli;

import dev.cvpt.demo.Pretrain;
import dev.cvpt.model.VitConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "pretrain", sortOptions = false,
        description = "Make the demo backbone: train a small ViT from scratch on the synthetic 'pretrain' task and save it without its head.")
public final class PretrainCommand implements Callable<Integer> {
    @Option(names = "--out", required = true, paramLabel = "FILE.safetensors") Path out;
    @Option(names = "--work", paramLabel = "DIR", description = "Working folder (data, run; default: OUT's folder/pretrain-work).") Path work;
    @Option(names = "--dim", defaultValue = "64") int dim;
    @Option(names = "--depth", defaultValue = "4") int depth;
    @Option(names = "--heads", defaultValue = "4") int heads;
    @Option(names = "--patch", defaultValue = "4") int patch;
    @Option(names = "--img", defaultValue = "32") int img;
    @Option(names = "--images", defaultValue = "6400", description = "Training images (default: ${DEFAULT-VALUE}).") int images;
    @Option(names = "--epochs", defaultValue = "20") int epochs;
    @Option(names = "--lr", defaultValue = "2e-3") double lr;
    @Option(names = "--seed", defaultValue = "0") long seed;
    @Option(names = "--init", defaultValue = "FAN_IN", description = "TIMM (std 0.02) or FAN_IN (std fan_in^-1/2; default).") dev.cvpt.demo.RandomVit.Init init;
    @Option(names = "--threads", defaultValue = "1", description = "Default 1: the shipped file was made with 1 thread (bit-for-bit reproducible).") int threads;
    @Mixin DebugOption debug;

    @Override
    public Integer call() throws Exception {
        int t = TrainCommand.threadCount(threads);
        VitConfig cfg = new VitConfig(dim, depth, heads, patch, img, 4 * dim);
        Path w = work != null ? work : out.toAbsolutePath().resolveSibling("pretrain-work");
        Pretrain.run(new Pretrain.Settings(cfg, images, epochs, lr, seed, t, init), out, w, System.err);
        System.err.println("backbone: " + out);
        return Main.OK;
    }
}
