package dev.cvpt.cli;

import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.OptionalInt;

/** Mixin: the backbone checkpoint and, where the file does not tell, its number of attention heads. */
public final class BackboneOptions {
    @Option(names = "--checkpoint", paramLabel = "CKPT", description = "Backbone: .npz (JAX ViT), .safetensors or .pth (timm names).")
    Path checkpoint;

    @Option(names = "--heads", description = "Attention heads, when the checkpoint does not tell (default: width/64).")
    Integer heads;

    public OptionalInt headsOpt() { return heads == null ? OptionalInt.empty() : OptionalInt.of(heads); }
}
