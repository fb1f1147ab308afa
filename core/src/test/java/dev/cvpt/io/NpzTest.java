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

class NpzTest {
    @TempDir Path tmp;

    static Map<String, HostTensor> everyDtype() {
        Map<String, HostTensor> m = new LinkedHashMap<>();
        m.put("z/last", HostTensor.ofFloats(new float[] {1.5f, -0f, Float.NaN, Float.MIN_VALUE, 3, 4}, 2, 3));
        m.put("a/first", HostTensor.ofLongs(new long[] {Long.MIN_VALUE, -1, 0, Long.MAX_VALUE}, 4));
        m.put("scalar", HostTensor.ofFloats(new float[] {2.5f}));
        m.put("empty", HostTensor.ofFloats(new float[0], 0, 5));
        for (DType d : DType.values()) {
            if (d == DType.BF16) continue; // numpy has no bfloat16
            byte[] b = new byte[3 * d.size];
            for (int i = 0; i < b.length; i++) b[i] = (byte) (d == DType.BOOL ? i % 2 : 17 * i + 3);
            m.put("dtype_" + d, new HostTensor(d, new long[] {3}, ByteBuffer.wrap(b)));
        }
        return m;
    }

    @Test
    void writeThenReadGivesTheSameBytesInTheSameOrder() throws IOException {
        Map<String, HostTensor> m = everyDtype();
        Path p = tmp.resolve("sub/dir/all.npz");
        Npz.write(p, m);
        Map<String, HostTensor> back = Npz.read(p);
        assertEquals(List.copyOf(m.keySet()), List.copyOf(back.keySet()));
        assertSameTensors(m, back);
        // deterministic: same arrays, same file
        Path q = tmp.resolve("again.npz");
        Npz.write(q, m);
        assertArrayEquals(Files.readAllBytes(p), Files.readAllBytes(q));
        try (var s = Files.list(p.getParent())) {
            assertEquals(1, s.count(), "no temporary files left behind");
        }
    }

    @Test
    void readsNumpySavezCompressed() {
        Map<String, HostTensor> m = Npz.read(resource("compressed.npz"));
        assertEquals(List.of("f64", "fortran", "f16", "i64", "flags", "scalar"), List.copyOf(m.keySet()));
        float[] want = new float[12];
        for (int i = 0; i < 12; i++) want[i] = i / 4f;
        assertEquals(DType.F64, m.get("f64").dtype());
        assertArrayEquals(want, m.get("f64").toFloats());
        assertArrayEquals(new long[] {3, 4}, m.get("fortran").shape());
        assertArrayEquals(want, m.get("fortran").toFloats(), "Fortran order is turned into C order");
        assertArrayEquals(new float[] {0, 0.5f, 1, 1.5f}, m.get("f16").toFloats());
        assertArrayEquals(new long[] {-1, 1L << 40}, m.get("i64").toLongs());
        assertEquals(DType.BOOL, m.get("flags").dtype());
        assertArrayEquals(new long[] {1, 0}, m.get("flags").toLongs());
        assertArrayEquals(new long[0], m.get("scalar").shape());
        assertArrayEquals(new float[] {2.5f}, m.get("scalar").toFloats());
    }

    /** An .npy whose header says one thing and whose data says another. */
    @Test
    void entriesWhoseNpyHeaderLiesAreNamed() throws IOException {
        byte[] good = Npy.toBytes(HostTensor.ofFloats(new float[] {1, 2, 3, 4}, 4));
        String header = new String(good, 10, good.length - 26, StandardCharsets.ISO_8859_1);

        byte[] shapeLie = good.clone();
        byte[] lie = header.replace("(4,)", "(9,)").getBytes(StandardCharsets.ISO_8859_1);
        System.arraycopy(lie, 0, shapeLie, 10, lie.length);
        check("shape.npz", shapeLie, "tensor 'w'", "needs 36 bytes");

        byte[] h = header.replace("(4,)", "(4611686018427387904, 4)").getBytes(StandardCharsets.ISO_8859_1);
        byte[] huge = concat(slice(good, 0, 10), h, slice(good, 10 + header.length(), good.length));
        ByteBuffer.wrap(huge).order(ByteOrder.LITTLE_ENDIAN).putShort(8, (short) h.length);
        check("huge.npz", huge, "tensor 'w'", "too large");

        byte[] lenLie = good.clone();
        ByteBuffer.wrap(lenLie).order(ByteOrder.LITTLE_ENDIAN).putShort(8, (short) 0xfff0);
        check("headerlen.npz", lenLie, "tensor 'w'", "header claims");

        byte[] dtype = good.clone();
        byte[] c = header.replace("<f4", "<c8").getBytes(StandardCharsets.ISO_8859_1);
        System.arraycopy(c, 0, dtype, 10, c.length);
        check("dtype.npz", dtype, "tensor 'w'", "unsupported .npy dtype");

        check("magic.npz", "not numpy at all".getBytes(StandardCharsets.US_ASCII), "tensor 'w'", "not an .npy");
    }

    private void check(String file, byte[] npy, String... fragments) throws IOException {
        Path p = tmp.resolve(file);
        writeZip(p, Map.of("w.npy", npy));
        assertRefused(p, () -> Npz.read(p), fragments);
        assertRefused(p, () -> Checkpoint.load(p), fragments);
    }

    /** The zip directory claims sizes the file cannot hold: refused before any allocation. */
    @Test
    void zipEntrySizesAreCheckedAgainstTheFile() throws IOException {
        Path p = tmp.resolve("sizes.npz");
        Npz.write(p, Map.of("w", HostTensor.ofFloats(new float[1000], 1000)));
        byte[] b = Files.readAllBytes(p);
        int cen = lastIndexOf(b, new byte[] {'P', 'K', 1, 2});
        assertTrue(cen > 0);
        for (int size : new int[] {0x7ffffff0, 5000, 100}) {
            byte[] c = b.clone();
            ByteBuffer.wrap(c).order(ByteOrder.LITTLE_ENDIAN).putInt(cen + 24, size); // uncompressed size
            Files.write(p, c);
            assertRefused(p, () -> Npz.read(p), "tensor 'w'");
        }
    }

    static int lastIndexOf(byte[] b, byte[] pat) {
        outer:
        for (int i = b.length - pat.length; i >= 0; i--) {
            for (int j = 0; j < pat.length; j++) if (b[i + j] != pat[j]) continue outer;
            return i;
        }
        return -1;
    }

    static byte[] slice(byte[] b, int from, int to) { return java.util.Arrays.copyOfRange(b, from, to); }

    static byte[] concat(byte[]... parts) {
        var out = new java.io.ByteArrayOutputStream();
        for (byte[] p : parts) out.writeBytes(p);
        return out.toByteArray();
    }
}
