package dev.cvpt.robust;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cvpt.io.HostTensor;
import dev.cvpt.io.Safetensors;
import dev.cvpt.train.TaskFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.*;

/**
 * eval and predict with task files that do not fit the backbone (trained on micro, used with a
 * backbone of another width), lack tensors or metadata, or describe something impossible.
 */
class BrokenTaskFilesTest {
    static final ObjectMapper JSON = new ObjectMapper();
    @TempDir Path tmp;

    /** A copy of the good task file with its tensors and description edited (no .json sidecar beside it). */
    private Path edited(String name, Consumer<Map<String, HostTensor>> tensors, Consumer<ObjectNode> info) throws IOException {
        var st = Safetensors.read(Fixtures.task());
        Map<String, HostTensor> t = new LinkedHashMap<>(st.tensors());
        tensors.accept(t);
        ObjectNode i = (ObjectNode) JSON.readTree(st.metadata().get(TaskFile.META_KEY));
        info.accept(i);
        Path f = tmp.resolve(name + ".safetensors");
        Safetensors.write(f, t, Map.of(TaskFile.META_KEY, JSON.writeValueAsString(i)));
        return f;
    }

    private static void noop(Object o) {}

    @Test
    @Timeout(300)
    void evalAndPredictNameTheTaskFileAndWhatDoesNotFit() throws IOException {
        record Case(String name, Path task, Path checkpoint, String... fragments) {}
        Path wide = Fixtures.otherWidthBackbone(tmp.resolve("wide96.safetensors"), 96);
        Path micro = Fixtures.micro("npz");
        List<Case> cases = new ArrayList<>();
        cases.add(new Case("trained on micro, used with a 96-wide backbone", Fixtures.task(), wide, "was trained on another backbone"));
        cases.add(new Case("no backbone hash, 96-wide backbone", edited("nohash", BrokenTaskFilesTest::noop,
                i -> ((ObjectNode) i.get("backbone")).remove("sha256")), wide, "tensor 'Prompt_Tokens': expected shape [4, 5, 96] for this backbone, got [4, 5, 64]"));
        cases.add(new Case("head.bias missing", edited("nobias", t -> t.remove("head.bias"), BrokenTaskFilesTest::noop), micro,
                "tensor 'head.bias': missing from the task file"));
        cases.add(new Case("head for 3 classes, 4 class names", edited("head3", t -> {
            t.put("head.weight", HostTensor.ofFloats(new float[3 * 64], 3, 64));
            t.put("head.bias", HostTensor.ofFloats(new float[3], 3));
        }, BrokenTaskFilesTest::noop), micro, "tensor 'head.weight': expected shape [4, 64]"));
        cases.add(new Case("prompts for another count", edited("prompts7", BrokenTaskFilesTest::noop, i -> i.put("prompts", 7)), micro,
                "tensor 'Prompt_Tokens': expected shape [4, 7, 64]"));
        cases.add(new Case("unknown method", edited("method", BrokenTaskFilesTest::noop, i -> i.put("method", "bitfit")), micro, "unknown method 'bitfit'"));
        cases.add(new Case("insert out of range", edited("insert", BrokenTaskFilesTest::noop, i -> i.put("insert", 9)), micro, "insert must be 1..5"));
        cases.add(new Case("no method", edited("nomethod", BrokenTaskFilesTest::noop, i -> i.remove("method")), micro, "has no 'method'"));
        cases.add(new Case("image size of another backbone", edited("size", BrokenTaskFilesTest::noop,
                i -> ((ObjectNode) i.get("preprocessing")).put("size", 224)), micro, "224"));
        cases.add(new Case("absurd image size", edited("hugesize", BrokenTaskFilesTest::noop,
                i -> ((ObjectNode) i.get("preprocessing")).put("size", 1_000_000)), micro, "1000000"));
        cases.add(new Case("unknown transform", edited("transform", BrokenTaskFilesTest::noop,
                i -> ((ObjectNode) i.get("preprocessing")).put("transform", "magic")), micro, "unknown transform 'magic'"));

        Path nometa = tmp.resolve("nometa.safetensors");
        Safetensors.write(nometa, Safetensors.read(Fixtures.task()).tensors(), Map.of());
        cases.add(new Case("no metadata and no .json beside it", nometa, micro, "not a cvpt task file"));
        Path notjson = tmp.resolve("notjson.safetensors");
        Safetensors.write(notjson, Safetensors.read(Fixtures.task()).tensors(), Map.of(TaskFile.META_KEY, "{\"method\": cvpt"));
        cases.add(new Case("metadata not JSON", notjson, micro, "not valid JSON"));
        cases.add(new Case("a backbone given as the task", Fixtures.micro("safetensors"), micro, "not a cvpt task file"));
        Path cut = tmp.resolve("cut.safetensors");
        byte[] b = Files.readAllBytes(Fixtures.task());
        Files.write(cut, java.util.Arrays.copyOf(b, b.length - 10));
        cases.add(new Case("truncated task file", cut, micro, "outside the"));
        Path gone = tmp.resolve("gone.safetensors");
        cases.add(new Case("task file missing", gone, micro, "cannot read"));

        String img = Fixtures.image().toString(), data = Fixtures.data().toString();
        for (Case c : cases) {
            String name = c.task().getFileName().toString();
            Cli.Run r = Cli.fails(2, new String[]{"eval", "--data", data, "--task", c.task().toString(), "--checkpoint", c.checkpoint().toString(),
                    "--threads", "1"}, withName(name, c.fragments()));
            Cli.record("eval", "task file: " + c.name(), r);
            r = Cli.fails(2, new String[]{"predict", "--task", c.task().toString(), "--checkpoint", c.checkpoint().toString(), img},
                    withName(name, c.fragments()));
            Cli.record("predict", "task file: " + c.name(), r);
        }
    }

    private static String[] withName(String name, String[] fragments) {
        String[] f = new String[fragments.length + 1];
        f[0] = name;
        System.arraycopy(fragments, 0, f, 1, fragments.length);
        return f;
    }
}
