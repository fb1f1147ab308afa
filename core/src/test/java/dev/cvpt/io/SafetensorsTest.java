package dev.cvpt.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.cvpt.io.IoTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

class SafetensorsTest {
    @TempDir Path tmp;

    @Test
    void writeThenReadGivesTheSameBytesOrderAndMetadata() throws IOException {
        Map<String, HostTensor> m = new LinkedHashMap<>(NpzTest.everyDtype());
        ByteBuffer bf = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putShort((short) 0x3f80).putShort((short) 0xc040);
        m.put("dtype_BF16", new HostTensor(DType.BF16, new long[] {2}, bf.flip()));
        Map<String, String> meta = Map.of("format", "pt", "heads", "4", "note", "ünïcödé \"quoted\"");
        Path p = tmp.resolve("all.safetensors");
        Safetensors.write(p, m, meta);
        Safetensors.SafetensorsFile back = Safetensors.read(p);
        assertEquals(List.copyOf(m.keySet()), List.copyOf(back.tensors().keySet()));
        assertSameTensors(m, back.tensors());
        assertEquals(meta, back.metadata());
        assertArrayEquals(new float[] {1f, -3f}, back.tensors().get("dtype_BF16").toFloats());

        byte[] b = Files.readAllBytes(p);
        long n = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, n % 8, "header padded to 8 bytes");
        String header = new String(b, 8, (int) n, StandardCharsets.UTF_8);
        assertTrue(header.startsWith("{") && header.strip().endsWith("}"));
        assertEquals(header.strip(), header.stripLeading().replaceAll(" +$", ""), "padding is spaces");

        Path empty = tmp.resolve("empty.safetensors");
        Safetensors.write(empty, Map.of(), Map.of());
        assertTrue(Safetensors.read(empty).tensors().isEmpty());
    }

    @Test
    void readsTheReferenceFile() {
        Safetensors.SafetensorsFile f = Safetensors.read(golden("micro.safetensors"));
        assertEquals(56, f.tensors().size());
        assertEquals("patch_embed.proj.weight", f.tensors().keySet().iterator().next());
        assertArrayEquals(new long[] {1, 17, 64}, f.tensors().get("pos_embed").shape());
    }

    private static final byte[] DATA = floatsLE(1, 2, 3, 4);

    private Path file(String name, String header, byte[] data) throws IOException {
        return Files.write(tmp.resolve(name), safetensors(header, data));
    }

    private void refused(String name, String header, String... fragments) throws IOException {
        Path p = file(name, header, DATA);
        assertRefused(p, () -> Safetensors.read(p), fragments);
        assertRefused(p, () -> Checkpoint.load(p), fragments);
    }

    @Test
    void hostileHeadersAreRefusedNamingFileAndTensor() throws IOException {
        String ok = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}";
        Path good = file("good.safetensors", ok, DATA);
        assertArrayEquals(new float[] {3, 4}, Safetensors.read(good).tensors().get("b").toFloats());

        refused("range.safetensors", ok.replace("[8,16]", "[8,20]").replace("[2],\"data_offsets\":[8", "[3],\"data_offsets\":[8"),
                "tensor 'b'", "outside the 16-byte data region");
        refused("overlap.safetensors", ok.replace("[8,16]", "[4,12]"), "tensor 'b'", "overlap tensor 'a'");
        refused("dtype.safetensors", ok.replace("\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8", "\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[8"),
                "tensor 'b'", "unsupported dtype 'F8_E4M3'");
        refused("shape.safetensors", ok.replace("\"shape\":[2],\"data_offsets\":[8", "\"shape\":[3],\"data_offsets\":[8"),
                "tensor 'b'", "needs 12 bytes");
        refused("negative.safetensors", ok.replace("\"shape\":[2],\"data_offsets\":[8", "\"shape\":[-2],\"data_offsets\":[8"),
                "tensor 'b'", "non-negative");
        refused("fraction.safetensors", ok.replace("\"shape\":[2],\"data_offsets\":[8", "\"shape\":[2.0],\"data_offsets\":[8"),
                "tensor 'b'", "non-negative integers");
        refused("bigshape.safetensors", ok.replace("\"shape\":[2],\"data_offsets\":[8", "\"shape\":[4611686018427387904,4],\"data_offsets\":[8"),
                "tensor 'b'", "too large");
        refused("backwards.safetensors", ok.replace("[8,16]", "[16,8]"), "tensor 'b'", "outside");
        refused("nooffsets.safetensors", ok.replace("\"data_offsets\":[8,16]", "\"data_offsets\":[8]"), "tensor 'b'", "data_offsets");
        refused("nodtype.safetensors", ok.replace("\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8", "\"shape\":[2],\"data_offsets\":[8"),
                "tensor 'b'", "dtype");
        refused("json.safetensors", ok.substring(0, ok.length() - 3), "not valid JSON");
        refused("trailing.safetensors", ok + " {}", "not valid JSON");
        refused("duplicate.safetensors", ok.replace("\"b\":", "\"a\":"), "not valid JSON");
        Path array = file("array.safetensors", "[1,2,3]", DATA);
        assertRefused(array, () -> Safetensors.read(array), "JSON object");
        refused("entry.safetensors", "{\"a\":[1,2]}", "tensor 'a'", "JSON object");
        refused("meta.safetensors", "{\"__metadata__\":{\"heads\":4}}", "__metadata__");
        refused("meta2.safetensors", "{\"__metadata__\":\"x\"}", "__metadata__");
        refused("deep.safetensors", "{\"a\":" + "[".repeat(5000) + "]".repeat(5000) + "}", "not valid JSON");
    }

    @Test
    void headerLengthsTheFileCannotHoldAreRefusedBeforeAllocating() throws IOException {
        byte[] b = safetensors("{}", new byte[0]);
        for (long len : new long[] {b.length, 1L << 62, -1L, Long.MIN_VALUE, 0, 1}) {
            ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, len);
            Path p = Files.write(tmp.resolve("len.safetensors"), b);
            assertRefused(p, () -> Safetensors.read(p), "header");
        }
        Path tiny = Files.write(tmp.resolve("tiny.safetensors"), new byte[] {8, 0, 0});
        assertRefused(tiny, () -> Safetensors.read(tiny), "only 3 bytes");
    }
}
