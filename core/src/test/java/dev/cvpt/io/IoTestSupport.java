package dev.cvpt.io;

import org.junit.jupiter.api.function.Executable;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static org.junit.jupiter.api.Assertions.*;

/** Helpers shared by the io tests: where the golden files are, and builders for hand-made files. */
public final class IoTestSupport {
    private IoTestSupport() {}

    static Path shared() {
        return Path.of(System.getProperty("cvpt.shared", "../shared"));
    }

    static Path golden(String name) {
        Path p = shared().resolve("golden").resolve(name);
        assertTrue(Files.isRegularFile(p), "missing reference file " + p);
        return p;
    }

    static Path resource(String name) {
        try {
            return Path.of(IoTestSupport.class.getResource("/io/" + name).toURI());
        } catch (URISyntaxException | NullPointerException e) {
            throw new AssertionError("missing test resource io/" + name, e);
        }
    }

    /** Asserts that loading fails with a CheckpointException whose message names the file and contains each fragment. */
    static CheckpointException assertRefused(Path file, Executable load, String... fragments) {
        CheckpointException e = assertThrows(CheckpointException.class, load);
        String m = e.getMessage();
        assertTrue(m.contains(file.getFileName().toString()), "message does not name the file: " + m);
        assertFalse(m.contains("\n"), "message is not one line: " + m);
        for (String f : fragments) assertTrue(m.contains(f), "message lacks '" + f + "': " + m);
        return e;
    }

    static byte[] bytesOf(HostTensor t) {
        ByteBuffer d = t.data().duplicate();
        byte[] out = new byte[d.remaining()];
        d.get(out);
        return out;
    }

    static void assertSameTensor(HostTensor expected, HostTensor actual, String name) {
        assertEquals(expected.dtype(), actual.dtype(), name + " dtype");
        assertArrayEquals(expected.shape(), actual.shape(), name + " shape");
        assertArrayEquals(bytesOf(expected), bytesOf(actual), name + " bytes");
    }

    static void assertSameTensors(Map<String, HostTensor> expected, Map<String, HostTensor> actual) {
        assertEquals(expected.keySet(), actual.keySet());
        expected.forEach((k, v) -> assertSameTensor(v, actual.get(k), k));
    }

    /** A zip with the given entries (stored, in order), as torch.save and np.savez write them. */
    public static void writeZip(Path file, Map<String, byte[]> entries) throws IOException {
        try (OutputStream out = Files.newOutputStream(file); ZipOutputStream zip = new ZipOutputStream(out)) {
            for (var e : entries.entrySet()) {
                ZipEntry z = new ZipEntry(e.getKey());
                CRC32 crc = new CRC32();
                crc.update(e.getValue());
                z.setMethod(ZipEntry.STORED);
                z.setSize(e.getValue().length);
                z.setCompressedSize(e.getValue().length);
                z.setCrc(crc.getValue());
                zip.putNextEntry(z);
                zip.write(e.getValue());
                zip.closeEntry();
            }
        }
    }

    /** A torch.save-style archive: PREFIX/data.pkl, PREFIX/data/KEY for each storage, PREFIX/version. */
    static Path torchZip(Path file, byte[] pickle, Map<String, byte[]> storages, String byteorder) throws IOException {
        Map<String, byte[]> entries = new LinkedHashMap<>();
        entries.put("archive/data.pkl", pickle);
        if (byteorder != null) entries.put("archive/byteorder", byteorder.getBytes(StandardCharsets.US_ASCII));
        storages.forEach((k, v) -> entries.put("archive/data/" + k, v));
        entries.put("archive/version", "3\n".getBytes(StandardCharsets.US_ASCII));
        writeZip(file, entries);
        return file;
    }

    static byte[] floatsLE(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) b.putFloat(f);
        return b.array();
    }

    /** A safetensors image from a header text (padded to 8 bytes) and a data region. */
    static byte[] safetensors(String header, byte[] data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        int padded = (h.length + 7) / 8 * 8;
        ByteBuffer b = ByteBuffer.allocate(8 + padded + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(padded).put(h);
        for (int i = h.length; i < padded; i++) b.put((byte) ' ');
        return b.put(data).array();
    }

    /** Writes pickle opcodes by hand, so that tests can say exactly what a hostile data.pkl does. */
    static final class Pickle {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Pickle() { op(0x80).op(2); }

        Pickle op(int... ops) {
            for (int o : ops) out.write(o);
            return this;
        }

        Pickle raw(byte[] b) {
            out.writeBytes(b);
            return this;
        }

        Pickle mark() { return op('('); }

        Pickle str(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            op('X');
            raw(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(b.length).array());
            return raw(b);
        }

        Pickle integer(long v) {
            if (v >= 0 && v < 256) return op('K', (int) v);
            if (v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE)
                return op('J').raw(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) v).array());
            return op(0x8a, 8).raw(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array());
        }

        Pickle global(String module, String name) {
            return op('c').raw((module + "\n" + name + "\n").getBytes(StandardCharsets.UTF_8));
        }

        Pickle ints(long... v) {
            mark();
            for (long x : v) integer(x);
            return op('t');
        }

        /** _rebuild_tensor_v2(('storage', torch.TYPE, key, 'cpu', numel), offset, size, stride, False, OrderedDict()). */
        Pickle tensor(String storageType, String key, long numel, long offset, long[] size, long[] stride) {
            global("torch._utils", "_rebuild_tensor_v2").mark();
            mark().str("storage").global("torch", storageType).str(key).str("cpu").integer(numel).op('t').op('Q');
            integer(offset).ints(size).ints(stride).op(0x89);
            global("collections", "OrderedDict").op(')', 'R');
            return op('t', 'R');
        }

        /** {name: tensor} for a single float tensor. */
        static byte[] oneTensor(String name, long numel, long offset, long[] size, long[] stride) {
            return new Pickle().op('}').str(name).tensor("FloatStorage", "0", numel, offset, size, stride).op('s').stop();
        }

        byte[] stop() {
            op('.');
            return out.toByteArray();
        }

        int size() { return out.size(); }
    }

    static long[] shape(long... s) { return s; }

    static String str(long[] a) { return Arrays.toString(a); }
}
