package dev.cvpt.serve;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cvpt.UserException;
import dev.cvpt.engine.Tensors;
import dev.cvpt.io.HostTensor;
import dev.cvpt.io.Safetensors;
import dev.cvpt.model.Lora;
import dev.cvpt.model.VisionTransformer;
import dev.cvpt.train.TaskFile;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalInt;

/**
 * Deployment of a LoRA task: its low-rank deltas folded into the backbone's qkv weights
 * ({@code W' = W + scale·B·A} on the targets' rows, bias unchanged), so inference runs the plain
 * ViT at the backbone's cost. Writes the merged backbone (timm names, .safetensors) and a
 * linear-probe task file with the head on it; {@code cvpt eval}/{@code predict} take the pair.
 */
public final class Merge {
    private Merge() {}

    /** What was written. */
    public record Result(Path backbone, Path task) {}

    public static Result lora(Path taskFile, Path checkpoint, Path outBackbone) throws IOException {
        TaskFile tf = TaskFile.read(taskFile);
        if (!tf.spec().method().equals(Lora.NAME))
            throw new UserException(taskFile + ": export --merge folds LoRA into the backbone; this is a " + tf.spec().method() + " task file");
        if (!outBackbone.getFileName().toString().endsWith(".safetensors"))
            throw new UserException("--out must name a .safetensors file, got " + outBackbone);
        Path ckpt = Predictor.backboneOf(tf, checkpoint);
        Map<String, HostTensor> backbone = new LinkedHashMap<>(), head = new LinkedHashMap<>();
        int heads;
        try (Predictor p = Predictor.load(ckpt, OptionalInt.empty()); PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            VisionTransformer vit = p.addTask(taskFile).model();
            Lora lora = (Lora) vit.method();
            p.backbone().params().forEach((n, t) -> backbone.put(n, Tensors.toHost(t)));
            for (int i = 0; i < vit.config().depth(); i++)
                backbone.put("blocks." + i + ".attn.qkv.weight", Tensors.toHost(lora.mergedQkv(vit, i)));
            head.put("head.weight", Tensors.toHost(vit.param("head.weight")));
            head.put("head.bias", Tensors.toHost(vit.param("head.bias")));
            heads = vit.config().heads();
        }
        Safetensors.write(outBackbone, backbone, Map.of("heads", Integer.toString(heads),
                "merged_from", taskFile.getFileName() + " (lora) on " + ckpt.getFileName()));
        ObjectNode info = tf.info().deepCopy();
        info.put("method", "linear");
        info.remove("options");
        ObjectNode from = info.putObject("merged_from");
        from.put("task", taskFile.toAbsolutePath().normalize().toString());
        from.put("method", Lora.NAME);
        if (tf.info().has("options")) from.set("options", tf.info().get("options"));
        from.set("backbone", tf.info().path("backbone"));
        ObjectNode bb = info.putObject("backbone");
        bb.put("file", outBackbone.getFileName().toString());
        bb.put("path", outBackbone.toAbsolutePath().normalize().toString());
        bb.put("sha256", TaskFile.sha256(outBackbone));
        if (tf.info().path("backbone").has("dims")) bb.set("dims", tf.info().path("backbone").get("dims"));
        Path task = outBackbone.resolveSibling(outBackbone.getFileName().toString().replaceFirst("\\.safetensors$", "") + "-task.safetensors");
        new TaskFile(task, head, info).write();
        return new Result(outBackbone, task);
    }
}
