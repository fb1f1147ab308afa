package dev.cvpt.cli;

import dev.cvpt.UserException;
import dev.cvpt.serve.Merge;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "export", sortOptions = false,
        description = {"Export a task for deployment. --merge folds a LoRA task into the backbone's qkv weights:",
                "OUT.safetensors is the merged backbone, OUT-task.safetensors a linear task file on it (same logits,",
                "the plain backbone's inference cost); cvpt eval / predict take it like any task file."})
public final class ExportCommand implements Callable<Integer> {
    @Option(names = "--task", required = true, paramLabel = "FILE", description = "A LoRA task file.") Path task;
    @Option(names = "--checkpoint", paramLabel = "CKPT", description = "Its backbone (default: the one recorded in the task file).") Path checkpoint;
    @Option(names = "--out", required = true, paramLabel = "OUT.safetensors", description = "The merged backbone to write.") Path out;
    @Option(names = "--merge", description = "Fold LoRA into the backbone (the only export for now).") boolean merge;
    @Mixin DebugOption debug;

    @Override
    public Integer call() throws Exception {
        if (!merge) throw new UserException("export needs --merge (fold a LoRA task into the backbone)");
        Merge.Result r = Merge.lora(task, checkpoint, out);
        System.out.println("{\"backbone\":\"" + r.backbone() + "\",\"task\":\"" + r.task() + "\"}");
        return Main.OK;
    }
}
