package dev.cvpt.robust;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cvpt.TestData;
import dev.cvpt.io.HostTensor;
import dev.cvpt.io.Npz;
import dev.cvpt.io.Safetensors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Every command that reads a backbone (verify, train, eval, predict), given broken and hostile
 * checkpoints made from the golden micro.* files: each exits 2 with one line naming the file (and
 * the tensor, where there is one), without a stack trace, and nothing in a file is executed.
 */
class BrokenCheckpointsTest {
    static final ObjectMapper JSON = new ObjectMapper();
    @TempDir static Path tmp;
    static Path marker;

    /** A broken file and what its message must say besides the file name. */
    record Case(String name, Path file, String... fragments) {}

    static final List<Case> CASES = new ArrayList<>();

    @BeforeAll
    static void makeBrokenFiles() throws IOException {
        marker = tmp.resolve("pwned");
        byte[] st = Files.readAllBytes(Fixtures.micro("safetensors"));
        byte[] npz = Files.readAllBytes(Fixtures.micro("npz"));
        byte[] pth = Files.readAllBytes(Fixtures.micro("pth"));

        // --- truncated and bit-flipped
        add("st-truncated", "cut.safetensors", Arrays.copyOf(st, st.length / 2), "outside the");
        add("st-truncated-in-header", "cuthead.safetensors", Arrays.copyOf(st, 1000), "header claims");
        add("st-empty", "empty.safetensors", new byte[0], "not a checkpoint");
        add("npz-truncated", "cut.npz", Arrays.copyOf(npz, npz.length / 2), "not a readable zip");
        add("pth-truncated", "cut.pth", Arrays.copyOf(pth, pth.length - 100), "");
        byte[] f1 = st.clone();
        f1[7] ^= 0x40;  // the header length's top byte: 2^62 + n
        add("st-bitflip-length", "flip-len.safetensors", f1, "header claims");
        byte[] f2 = st.clone();
        f2[8] ^= 0x01;  // '{' -> 'z': not JSON any more
        add("st-bitflip-json", "flip-json.safetensors", f2, "not a checkpoint");
        byte[] f3 = npz.clone();
        f3[npz.length - 22] ^= 0x01; // end-of-central-directory signature
        add("npz-bitflip-eocd", "flip-eocd.npz", f3, "");
        add("text-file", "notes.npz", "just some text\n".getBytes(), "not a checkpoint");

        // --- safetensors header edits
        Fixtures.St s = Fixtures.St.of(Fixtures.micro("safetensors"));
        byte[] big = st.clone();
        ByteBuffer.wrap(big).order(ByteOrder.LITTLE_ENDIAN).putLong(0, big.length + 1000L);
        add("st-header-longer-than-file", "hdrlen.safetensors", big, "header claims");
        edit(s, "st-offsets-out-of-range", "offsets.safetensors", h -> offsets(h, "norm.bias", 54272, 54272 + 10_000_000), "norm.bias", "outside the");
        edit(s, "st-overlapping-tensors", "overlap.safetensors", h -> offsets(h, "norm.bias", 54016, 54272), "overlap");
        edit(s, "st-unknown-dtype", "dtype.safetensors", h -> ((ObjectNode) h.get("norm.weight")).put("dtype", "F8_E9M9"), "norm.weight", "unsupported dtype");
        edit(s, "st-shape-disagrees-with-bytes", "shape.safetensors", h -> shape(h, "cls_token", 1, 1, 65), "cls_token", "needs");
        edit(s, "st-huge-shape", "hugeshape.safetensors", h -> shape(h, "cls_token", 1L << 40, 1L << 40, 1L << 40), "cls_token", "too large");
        edit(s, "st-wrong-shape-same-bytes", "transposed.safetensors", h -> shape(h, "blocks.0.mlp.fc1.weight", 64, 256), "blocks.0.mlp.fc1.weight", "expected shape");
        edit(s, "st-missing-tensor", "missing.safetensors", h -> h.remove("blocks.1.attn.qkv.bias"), "blocks.1.attn.qkv.bias", "missing");
        edit(s, "st-rank0-tensor", "rank0.safetensors", h -> {
            shape(h, "blocks.0.mlp.fc1.weight");
            offsets(h, "blocks.0.mlp.fc1.weight", h.get("blocks.0.mlp.fc1.weight").get("data_offsets").get(0).asLong(),
                    h.get("blocks.0.mlp.fc1.weight").get("data_offsets").get(0).asLong() + 4);
        }, "blocks.0.mlp.fc1.weight");
        edit(s, "st-not-a-vit", "notvit.safetensors", h -> {
            for (var it = h.fieldNames(); it.hasNext(); ) if (it.next().startsWith("blocks.")) it.remove();
        }, "not a ViT");
        edit(s, "st-metadata-not-strings", "meta.safetensors", h -> h.putObject("__metadata__").put("heads", 4), "__metadata__");
        edit(s, "st-bad-heads", "heads.safetensors", h -> h.putObject("__metadata__").put("heads", "5"), "heads");

        // --- npz with an entry missing
        Map<String, HostTensor> arrays = new LinkedHashMap<>(Npz.read(Fixtures.micro("npz")));
        String gone = arrays.keySet().stream().filter(k -> k.contains("Transformer/encoder_norm/scale")).findFirst().orElseThrow();
        arrays.remove(gone);
        Path missingNpz = tmp.resolve("missing.npz");
        Npz.write(missingNpz, arrays);
        CASES.add(new Case("npz-missing-entry", missingNpz, "missing"));

        // --- hostile pickles: nothing they name may run
        String cmd = "touch " + marker;
        CASES.add(new Case("pth-os.system", Fixtures.torchZip(tmp.resolve("system.pth"), Fixtures.callPickle("os", "system", cmd)),
                "refusing to load", "os.system"));
        CASES.add(new Case("pth-posix.system", Fixtures.torchZip(tmp.resolve("posix.pth"), Fixtures.callPickle("posix", "system", cmd)),
                "refusing to load", "posix.system"));
        CASES.add(new Case("pth-subprocess.Popen", Fixtures.torchZip(tmp.resolve("popen.pth"), Fixtures.callPickle("subprocess", "Popen", cmd)),
                "subprocess.Popen"));
        CASES.add(new Case("pth-builtins.eval", Fixtures.torchZip(tmp.resolve("eval.pth"), Fixtures.callPickle("builtins", "eval", "__import__('os').system('" + cmd + "')")),
                "builtins.eval"));
        CASES.add(new Case("pth-arbitrary-class", Fixtures.torchZip(tmp.resolve("evil.pth"), Fixtures.classPickle("__main__", "Evil")), "__main__.Evil"));
        CASES.add(new Case("pth-java-class", Fixtures.torchZip(tmp.resolve("java.pth"), Fixtures.callPickle("java.lang.Runtime", "exec", cmd)), "java.lang.Runtime"));
        CASES.add(new Case("pth-endless-nesting", Fixtures.torchZip(tmp.resolve("nest.pth"), Fixtures.nestedPickle(200_000)), "nest deeper than"));
        CASES.add(new Case("pth-legacy-os.system", Files.write(tmp.resolve("legacy.pth"), Fixtures.callPickle("os", "system", cmd)), ""));
        CASES.add(new Case("pth-zip-without-pickle", Fixtures.torchZip(tmp.resolve("nopkl.pth"), new byte[0]), ""));
        CASES.add(new Case("missing-file", tmp.resolve("does-not-exist.safetensors"), "cannot read"));
        CASES.add(new Case("a-directory", Files.createDirectories(tmp.resolve("dir.npz")), "cannot read"));
    }

    private static void add(String name, String file, byte[] bytes, String... fragments) throws IOException {
        CASES.add(new Case(name, Files.write(tmp.resolve(file), bytes), fragments));
    }

    interface HeaderEdit { void apply(ObjectNode h); }

    private static void edit(Fixtures.St s, String name, String file, HeaderEdit e, String... fragments) throws IOException {
        ObjectNode h = (ObjectNode) JSON.readTree(s.header());
        e.apply(h);
        CASES.add(new Case(name, s.header(JSON.writeValueAsString(h)).write(tmp.resolve(file)), fragments));
    }

    private static void offsets(ObjectNode h, String tensor, long begin, long end) {
        ArrayNode a = ((ObjectNode) h.get(tensor)).putArray("data_offsets");
        a.add(begin).add(end);
    }

    private static void shape(ObjectNode h, String tensor, long... dims) {
        ArrayNode a = ((ObjectNode) h.get(tensor)).putArray("shape");
        for (long d : dims) a.add(d);
    }

    private static String[] withFile(Case c) {
        String[] f = new String[c.fragments().length + 1];
        f[0] = c.file().getFileName().toString();
        System.arraycopy(c.fragments(), 0, f, 1, c.fragments().length);
        return f;
    }

    private static void check(String command, Case c, String... args) {
        Cli.Run r = Cli.fails(2, args, withFile(c));
        Cli.record(command, "checkpoint " + c.name(), r);
    }

    @Test
    @Timeout(300)
    void verifyTrainEvalAndPredictRefuseEveryBrokenCheckpoint() {
        Path golden = TestData.golden("cvpt_deep_insert3.npz"), data = Fixtures.data(), task = Fixtures.task();
        String img = Fixtures.image().toString();
        // the good files pass, so the failures below are the broken file's doing
        assertEquals(0, Cli.run("verify", golden.toString(), "--checkpoint", Fixtures.micro("safetensors").toString()).rc());
        int i = 0;
        for (Case c : CASES) {
            String ckpt = c.file().toString();
            if (c.name().equals("st-bad-heads")) {
                // the golden case's config says heads = 4, which wins over the file's metadata: verify passes
                Cli.Run r = Cli.run("verify", golden.toString(), "--checkpoint", ckpt);
                assertEquals(0, r.rc(), r.toString());
                Cli.record("verify", "checkpoint " + c.name() + " (the case's config sets heads)", r);
            } else {
                check("verify", c, "verify", golden.toString(), "--checkpoint", ckpt);
            }
            check("train", c, "train", "--data", data.toString(), "--checkpoint", ckpt, "--out", tmp.resolve("run" + i++).toString(),
                    "--epochs", "1", "--threads", "1", "--no-progress");
            check("eval", c, "eval", "--data", data.toString(), "--task", task.toString(), "--checkpoint", ckpt, "--threads", "1");
            check("predict", c, "predict", "--task", task.toString(), "--checkpoint", ckpt, img);
        }
        assertFalse(Files.exists(marker), "a command named in a pickle ran");
    }
}
