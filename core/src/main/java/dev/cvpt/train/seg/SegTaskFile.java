package dev.cvpt.train.seg;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cvpt.UserException;
import dev.cvpt.engine.Tensors;
import dev.cvpt.io.Checkpoint;
import dev.cvpt.io.CheckpointException;
import dev.cvpt.io.HostTensor;
import dev.cvpt.io.Safetensors;
import dev.cvpt.model.Backbones;
import dev.cvpt.model.seg.CrossWeights;
import dev.cvpt.model.seg.HeadSpec;
import dev.cvpt.model.seg.SegModel;
import dev.cvpt.model.seg.SegSpec;
import dev.cvpt.train.TaskFile;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * A segmentation task file: {@code NAME.safetensors} with the trained tensors under the official mmseg names
 * ({@code backbone.Prompt_Tokens}, {@code decode_head.*}, {@code auxiliary_head.j.*} with the BN running
 * statistics and {@code num_batches_tracked}; the stored cross-attention weights {@code backbone.layers.i.cross.*}
 * when they are not shared; the whole backbone for full fine-tuning), so the official model loads it with
 * {@code strict=False}; and its description (format {@code cvpt-seg-task/1}: the model spec, classes, palette,
 * test pipeline, backbone file and SHA-256, recipe, metrics) in the metadata key {@code cvpt} and in NAME.json.
 */
public record SegTaskFile(Path file, Map<String, HostTensor> tensors, ObjectNode info) {
    public static final String FORMAT = "cvpt-seg-task/1";

    /** The spec as JSON (every field; {@link #specOf} reads it back). */
    public static ObjectNode specJson(SegSpec s) {
        ObjectNode o = TaskFile.JSON.createObjectNode();
        o.put("method", s.method());
        o.put("prompts", s.prompts());
        o.put("cross_attn_weights", s.cross().id());
        o.put("drop_rate", s.dropRate());
        o.put("prompt_dropout", s.promptDropout());
        o.set("img_size", TaskFile.JSON.valueToTree(List.of(s.imgH(), s.imgW())));
        o.set("out_indices", TaskFile.JSON.valueToTree(s.outIndices()));
        o.put("num_classes", s.numClasses());
        o.set("decode_head", head(s.decode()));
        ArrayNode a = o.putArray("auxiliary_heads");
        s.aux().forEach(h -> a.add(head(h)));
        return o;
    }

    private static ObjectNode head(HeadSpec h) {
        ObjectNode o = TaskFile.JSON.createObjectNode();
        o.put("in_index", h.inIndex());
        o.put("channels", h.channels());
        o.put("num_convs", h.numConvs());
        o.put("up_scale", h.upScale());
        o.put("kernel_size", h.kernel());
        o.put("loss_weight", h.lossWeight());
        return o;
    }

    public static SegSpec specOf(JsonNode o) {
        List<Integer> out = new ArrayList<>();
        o.get("out_indices").forEach(n -> out.add(n.asInt()));
        List<HeadSpec> aux = new ArrayList<>();
        o.get("auxiliary_heads").forEach(n -> aux.add(headOf(n)));
        return new SegSpec(o.get("method").asText(), o.path("prompts").asInt(10), CrossWeights.parse(o.path("cross_attn_weights").asText("shared")),
                o.path("drop_rate").asDouble(0.1), o.path("prompt_dropout").asDouble(0.1), o.get("img_size").get(0).asInt(),
                o.get("img_size").get(1).asInt(), out, o.get("num_classes").asInt(), headOf(o.get("decode_head")), aux);
    }

    private static HeadSpec headOf(JsonNode n) {
        return new HeadSpec(n.get("in_index").asInt(), n.get("channels").asInt(), n.get("num_convs").asInt(),
                n.get("up_scale").asInt(), n.get("kernel_size").asInt(), n.get("loss_weight").asDouble());
    }

    public void write() throws IOException {
        new TaskFile(file, tensors, info).write();
    }

    /** Host copies of the model's task tensors. */
    public static Map<String, HostTensor> tensorsOf(SegModel m) {
        Map<String, HostTensor> t = new LinkedHashMap<>();
        m.taskTensors().forEach((n, v) -> t.put(n, Tensors.toHost(v)));
        return t;
    }

    public static SegTaskFile read(Path file) {
        if (!Files.isRegularFile(file)) throw new UserException(file + ": no such task file");
        var st = Safetensors.read(file);
        String json = st.metadata().get(TaskFile.META_KEY);
        if (json == null) throw new CheckpointException(file, null, "not a cvpt task file: no '" + TaskFile.META_KEY + "' metadata");
        try {
            JsonNode n = TaskFile.JSON.readTree(json);
            if (!(n instanceof ObjectNode o) || !FORMAT.equals(o.path("format").asText()))
                throw new CheckpointException(file, null, "not a segmentation task file (format " + FORMAT + "); classification task files go to cvpt eval/predict");
            try {
                specOf(o.get("spec"));
            } catch (RuntimeException e) {
                throw new CheckpointException(file, null, "task description: bad spec: " + e.getMessage());
            }
            return new SegTaskFile(file, st.tensors(), o);
        } catch (IOException e) {
            throw new CheckpointException(file, null, "task description is not valid JSON");
        }
    }

    public SegSpec spec() { return specOf(info.get("spec")); }

    public String name() { return info.path("name").asText(); }

    public List<String> classNames() {
        List<String> out = new ArrayList<>();
        info.path("classes").forEach(c -> out.add(c.asText()));
        return out;
    }

    /** The palette [[r,g,b], ...] recorded in the file (empty when none). */
    public int[][] palette() {
        JsonNode p = info.path("palette");
        int[][] out = new int[p.size()][];
        for (int i = 0; i < p.size(); i++) out[i] = new int[]{p.get(i).get(0).asInt(), p.get(i).get(1).asInt(), p.get(i).get(2).asInt()};
        return out;
    }

    public JsonNode test() { return info.path("test"); }

    /** The backbone this file was trained on: the given one, else the recorded path, else its file name beside the task file. */
    public Path backbone(Path given) {
        if (given != null) return given;
        Path recorded = Path.of(info.path("backbone").path("path").asText(""));
        if (!recorded.toString().isEmpty() && Files.exists(recorded)) return recorded;
        Path beside = file.toAbsolutePath().resolveSibling(info.path("backbone").path("file").asText(""));
        if (Files.isRegularFile(beside)) return beside;
        throw new UserException(file + ": its backbone " + recorded + " is not there; pass --checkpoint");
    }

    /** Builds the model on {@code checkpoint} (its SHA-256 must be the recorded one) and loads the tensors. */
    public SegModel load(Path checkpoint, OptionalInt heads) {
        String want = info.path("backbone").path("sha256").asText("");
        String have = TaskFile.sha256(checkpoint);
        if (!want.isEmpty() && !want.equals(have))
            throw new CheckpointException(file, null, "was trained on another backbone (" + info.path("backbone").path("file").asText()
                    + ", SHA-256 " + want.substring(0, 12) + "...) than " + checkpoint.getFileName() + " (" + have.substring(0, 12) + "...)");
        Checkpoint c = Checkpoint.load(checkpoint);
        SegModel m = SegModel.assemble(Backbones.backbone(checkpoint, c.tensors(), heads.isPresent() ? heads : c.heads()), spec());
        try (NoGradGuard g = new NoGradGuard()) {
            for (Map.Entry<String, Tensor> e : m.taskTensors().entrySet())
                Tensors.copyInto(e.getValue(), file, tensors, e.getKey(), "the task file");
        }
        m.taskTensors().values().forEach(t -> t.set_requires_grad(false));
        return m;
    }
}
