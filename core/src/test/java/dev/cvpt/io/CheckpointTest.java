package dev.cvpt.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static dev.cvpt.io.IoTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

class CheckpointTest {
    @TempDir Path tmp;

    @Test
    void microLoadsToTheSameTimmTensorsFromAllThreeFormats() {
        Checkpoint npz = Checkpoint.load(golden("micro.npz"));
        Checkpoint st = Checkpoint.load(golden("micro.safetensors"));
        Checkpoint pth = Checkpoint.load(golden("micro.pth"));
        Map<String, HostTensor> raw = Safetensors.read(golden("micro.safetensors")).tensors();

        assertEquals(56, raw.size());
        for (Checkpoint c : List.of(npz, st, pth)) {
            assertEquals(56, c.tensors().size(), c.toString());
            assertSameTensors(raw, c.tensors()); // bit-exact, same names, shapes as in micro.safetensors
            c.tensors().values().forEach(t -> assertEquals(DType.F32, t.dtype()));
        }
        assertEquals(4, npz.heads().orElseThrow());
        assertArrayEquals(new long[] {64, 3, 8, 8}, npz.tensors().get("patch_embed.proj.weight").shape());
        assertArrayEquals(new long[] {192, 64}, npz.tensors().get("blocks.3.attn.qkv.weight").shape());
        assertArrayEquals(new long[] {10, 64}, npz.tensors().get("head.weight").shape());
        // the pth stores the conv kernel as a permuted (non-contiguous) view: the strided copy must be right
        assertSameTensor(raw.get("patch_embed.proj.weight"), pth.tensors().get("patch_embed.proj.weight"), "conv");
    }

    @Test
    void mini224HasItsOwnDims() {
        Checkpoint c = Checkpoint.load(golden("mini224.npz"));
        assertEquals(3, c.heads().orElseThrow());
        assertArrayEquals(new long[] {48, 3, 16, 16}, c.tensors().get("patch_embed.proj.weight").shape());
        assertArrayEquals(new long[] {1, 197, 48}, c.tensors().get("pos_embed").shape());
        assertTrue(c.tensors().containsKey("blocks.1.mlp.fc2.bias"));
        assertFalse(c.tensors().keySet().stream().anyMatch(k -> k.startsWith("blocks.2.")));
    }

    @Test
    void everyGoldenCaseReadsWithTheShapesItsJsonGives() throws IOException {
        List<Path> cases;
        try (Stream<Path> s = Files.list(shared().resolve("golden"))) {
            cases = s.filter(p -> p.toString().endsWith(".json")).sorted().toList();
        }
        assertFalse(cases.isEmpty());
        for (Path json : cases) {
            Path npz = json.resolveSibling(json.getFileName().toString().replace(".json", ".npz"));
            Map<String, HostTensor> arrays = Npz.read(npz);
            JsonNode want = new ObjectMapper().readTree(json.toFile()).get("arrays");
            assertEquals(want.size(), arrays.size(), npz.toString());
            want.fields().forEachRemaining(e -> {
                HostTensor t = arrays.get(e.getKey());
                assertNotNull(t, npz + ": " + e.getKey());
                assertEquals(e.getValue().get(0).asText(), switch (t.dtype()) {
                    case F32 -> "float32";
                    case I64 -> "int64";
                    default -> t.dtype().name();
                }, e.getKey());
                long[] shape = new long[e.getValue().get(1).size()];
                for (int i = 0; i < shape.length; i++) shape[i] = e.getValue().get(1).get(i).asLong();
                assertArrayEquals(shape, t.shape(), npz + ": " + e.getKey());
            });
        }
        Map<String, HostTensor> c = Npz.read(golden("cvpt_deep_insert1.npz"));
        assertTrue(c.containsKey("init/Prompt_Tokens") && c.containsKey("grad/head.weight"));
        assertEquals(DType.I64, c.get("labels").dtype());
        for (long label : c.get("labels").toLongs()) assertTrue(label >= 0 && label < 10);
    }

    @Test
    void optTargetPrefixAndOtherFloatTypesConvertTheSame() throws IOException {
        Map<String, HostTensor> w = Npz.read(golden("micro.npz")), prefixed = new LinkedHashMap<>();
        w.forEach((k, v) -> prefixed.put("opt/target/" + k, k.equals("cls") ? f64(v) : v));
        Path p = tmp.resolve("prefixed.npz");
        Npz.write(p, prefixed);
        Checkpoint c = Checkpoint.load(p);
        assertSameTensors(Checkpoint.load(golden("micro.npz")).tensors(), c.tensors()); // F64 -> F32 is exact here
        assertEquals(4, c.heads().orElseThrow());
    }

    private static HostTensor f64(HostTensor t) {
        float[] f = t.toFloats();
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(8 * f.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (float x : f) b.putDouble(x);
        return new HostTensor(DType.F64, t.shape(), b.flip());
    }

    @Test
    void missingOrMisshapenNpzEntriesAreNamed() throws IOException {
        Map<String, HostTensor> w = new LinkedHashMap<>(Npz.read(golden("micro.npz")));
        String gone = "Transformer/encoderblock_2/MlpBlock_3/Dense_1/bias";
        w.remove(gone);
        Path p = tmp.resolve("missing.npz");
        Npz.write(p, w);
        assertRefused(p, () -> Checkpoint.load(p), "tensor '" + gone + "'", "missing");

        Map<String, HostTensor> bad = new LinkedHashMap<>(Npz.read(golden("micro.npz")));
        String q = "Transformer/encoderblock_1/MultiHeadDotProductAttention_1/query/kernel";
        bad.put(q, HostTensor.ofFloats(new float[64 * 64], 64, 64));
        Path p2 = tmp.resolve("misshapen.npz");
        Npz.write(p2, bad);
        assertRefused(p2, () -> Checkpoint.load(p2), "tensor '" + q + "'", "[64, 4, 16]");

        Path p3 = tmp.resolve("other.npz");
        Npz.write(p3, Map.of("x", HostTensor.ofFloats(new float[] {1}, 1)));
        assertRefused(p3, () -> Checkpoint.load(p3), "'embedding/kernel'", "missing");
    }

    @Test
    void timmNamedFilesPassThroughAndHalfPrecisionBecomesF32() throws IOException {
        java.nio.ByteBuffer h = java.nio.ByteBuffer.allocate(4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        h.putShort((short) 0x3c00).putShort((short) 0xc000); // 1.0, -2.0
        Map<String, HostTensor> m = new LinkedHashMap<>();
        m.put("module.patch_embed.proj.weight", new HostTensor(DType.F16, new long[] {2}, h.flip()));
        m.put("steps", HostTensor.ofLongs(new long[] {7}, 1));
        Path p = tmp.resolve("timm.safetensors");
        Safetensors.write(p, m, Map.of("heads", "12"));
        Checkpoint c = Checkpoint.load(p);
        assertEquals(12, c.heads().orElseThrow());
        HostTensor w = c.tensors().get("patch_embed.proj.weight");
        assertEquals(DType.F32, w.dtype());
        assertArrayEquals(new float[] {1f, -2f}, w.toFloats());
        assertEquals(DType.I64, c.tensors().get("steps").dtype(), "integer tensors keep their type");

        Safetensors.write(p, m, Map.of("heads", "many"));
        assertRefused(p, () -> Checkpoint.load(p), "heads");
    }

    @Test
    void unknownContentIsRefusedWithTheFormatsListed() throws IOException {
        Path text = Files.writeString(tmp.resolve("notes.txt"), "hello, this is not a checkpoint");
        assertRefused(text, () -> Checkpoint.load(text), ".npz", ".safetensors", "torch.save");
        Path empty = Files.write(tmp.resolve("empty.bin"), new byte[0]);
        assertRefused(empty, () -> Checkpoint.load(empty), ".npz");
        Path zip = tmp.resolve("other.zip");
        writeZip(zip, Map.of("readme.txt", new byte[] {1, 2, 3}));
        assertRefused(zip, () -> Checkpoint.load(zip), "neither");
        Path legacy = resource("legacy.pth");
        assertRefused(legacy, () -> Checkpoint.load(legacy), "legacy torch.save format is not supported; re-save with torch >= 1.6");
        Path none = tmp.resolve("does-not-exist.npz");
        assertRefused(none, () -> Checkpoint.load(none), "cannot read");
    }
}
