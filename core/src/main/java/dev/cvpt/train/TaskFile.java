package dev.cvpt.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cvpt.UserException;
import dev.cvpt.io.AtomicFiles;
import dev.cvpt.io.CheckpointException;
import dev.cvpt.io.HostTensor;
import dev.cvpt.io.Safetensors;
import dev.cvpt.model.MethodSpec;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The per-task file: {@code NAME.safetensors} holding exactly the trained tensors under the official
 * names ({@code Prompt_Tokens}, {@code head.weight}, {@code head.bias}; every tensor for full
 * fine-tuning), so the official PyTorch model loads it with {@code strict=False}; and
 * {@code NAME.json} beside it (also stored as the safetensors metadata key {@code cvpt}) with
 * everything needed to use it: method, classes, preprocessing, backbone and its SHA-256, recipe, metrics.
 */
public record TaskFile(Path file, Map<String, HostTensor> tensors, ObjectNode info) {
    public static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    public static final String META_KEY = "cvpt";

    public void write() throws IOException {
        String json = JSON.writeValueAsString(info);
        Safetensors.write(file, tensors, Map.of(META_KEY, json));
        AtomicFiles.write(sidecar(file), out -> out.write(json.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    }

    public static Path sidecar(Path taskFile) {
        String n = taskFile.getFileName().toString();
        return taskFile.resolveSibling(n.replaceFirst("\\.safetensors$", "") + ".json");
    }

    /** Reads a task file; its description comes from the safetensors metadata (the .json is a copy for people). */
    public static TaskFile read(Path file) {
        var st = Safetensors.read(file);
        String json = st.metadata().get(META_KEY);
        if (json == null) {
            Path side = sidecar(file);
            try {
                if (Files.exists(side)) json = Files.readString(side);
            } catch (IOException e) {
                throw new CheckpointException(side, null, "cannot read: " + e.getMessage());
            }
        }
        if (json == null) throw new CheckpointException(file, null, "not a cvpt task file: no '" + META_KEY + "' metadata and no .json beside it");
        try {
            JsonNode n = JSON.readTree(json);
            if (!(n instanceof ObjectNode o) || !o.has("method"))
                throw new CheckpointException(file, null, "task description has no 'method'");
            TaskFile tf = new TaskFile(file, st.tensors(), o);
            try {
                tf.spec();
                dev.cvpt.data.Transforms.byName(tf.transform(), 1);
            } catch (IllegalArgumentException e) {
                throw new CheckpointException(file, null, "task description: " + e.getMessage());
            }
            return tf;
        } catch (IOException e) {
            throw new CheckpointException(file, null, "task description is not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
    }

    public MethodSpec spec() {
        return new MethodSpec(info.path("method").asText(), info.path("insert").asInt(3), info.path("prompts").asInt(1),
                info.path("deep").asBoolean(true), 0.0, options(info.path("options")));
    }

    /** A JSON object of method options as MethodSpec holds them (Integer, Double, Boolean, String); empty when absent. */
    public static Map<String, Object> options(JsonNode node) {
        Map<String, Object> out = new LinkedHashMap<>();
        node.fields().forEachRemaining(e -> {
            JsonNode v = e.getValue();
            out.put(e.getKey(), v.isIntegralNumber() ? (Object) v.asInt() : v.isNumber() ? (Object) v.asDouble()
                    : v.isBoolean() ? (Object) v.asBoolean() : v.asText());
        });
        return out;
    }

    public List<String> classNames() {
        List<String> out = new ArrayList<>();
        info.path("classes").forEach(c -> out.add(c.asText()));
        return out;
    }

    public int imageSize() { return info.path("preprocessing").path("size").asInt(); }

    public String transform() { return info.path("preprocessing").path("transform").asText("vtab"); }

    public String name() { return info.path("name").asText(); }

    /** Hex SHA-256 of a file (identifies the backbone a task file was trained on). */
    public static String sha256(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 20];
            for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
            return HexFormat.of().formatHex(md.digest());
        } catch (IOException e) {
            throw new UserException(file + ": cannot read: " + e.getMessage(), e);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
