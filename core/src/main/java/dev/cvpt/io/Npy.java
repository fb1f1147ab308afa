package dev.cvpt.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** NumPy .npy arrays (format versions 1–3, little-endian, C order). */
public final class Npy {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
    private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

    private Npy() {}

    /**
     * Parses one .npy image. {@code file} and {@code name} are only used in error messages (for an
     * array inside an .npz, the archive and the entry).
     */
    public static HostTensor parse(byte[] bytes, Path file, String name) {
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (bytes.length < 10) throw new CheckpointException(file, name, "not an .npy array: only " + bytes.length + " bytes");
        for (int i = 0; i < MAGIC.length; i++)
            if (bytes[i] != MAGIC[i]) throw new CheckpointException(file, name, "not an .npy array: bad magic bytes");
        int major = bytes[6] & 0xff;
        long headerLen;
        int start;
        if (major == 1) { headerLen = b.getShort(8) & 0xffff; start = 10; }
        else if (major == 2 || major == 3) {
            if (bytes.length < 12) throw new CheckpointException(file, name, "truncated .npy header");
            headerLen = b.getInt(8) & 0xffffffffL; start = 12;
        } else throw new CheckpointException(file, name, "unsupported .npy format version " + major);
        if (start + headerLen > bytes.length)
            throw new CheckpointException(file, name, ".npy header claims " + headerLen + " bytes but the array has only "
                    + (bytes.length - start));
        String header = new String(bytes, start, (int) headerLen, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        Matcher d = DESCR.matcher(header), f = FORTRAN.matcher(header), s = SHAPE.matcher(header);
        if (!d.find() || !f.find() || !s.find())
            throw new CheckpointException(file, name, "malformed .npy header: " + header.strip());
        DType dtype = dtypeOf(d.group(1), file, name);
        List<Long> dims = new ArrayList<>();
        for (String part : s.group(1).split(",")) {
            String t = part.strip();
            if (t.isEmpty()) continue;
            try {
                long v = Long.parseLong(t.endsWith("L") ? t.substring(0, t.length() - 1) : t);
                if (v < 0) throw new NumberFormatException();
                dims.add(v);
            } catch (NumberFormatException e) {
                throw new CheckpointException(file, name, "malformed shape in .npy header: (" + s.group(1) + ")");
            }
        }
        long[] shape = dims.stream().mapToLong(Long::longValue).toArray();
        long numel;
        try {
            numel = HostTensor.numel(shape);
            Math.multiplyExact(numel, dtype.size);
        } catch (ArithmeticException e) {
            throw new CheckpointException(file, name, "shape " + dims + " is too large");
        }
        long need = numel * dtype.size, have = bytes.length - start - headerLen;
        if (need != have)
            throw new CheckpointException(file, name, "shape " + dims + " of " + dtype + " needs " + need
                    + " bytes of data, the array holds " + have);
        ByteBuffer data = ByteBuffer.wrap(bytes, (int) (start + headerLen), (int) need).slice();
        if (d.group(1).startsWith(">") && dtype.size > 1) data = swap(data, dtype.size);
        if (f.group(1).equals("True") && shape.length > 1) data = fortranToC(data, shape, dtype.size);
        return new HostTensor(dtype, shape, data);
    }

    public static HostTensor read(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new CheckpointException(file, null, "cannot read: " + e.getMessage(), e);
        }
        return parse(bytes, file, null);
    }

    /** The .npy bytes of a tensor (format 1.0, little-endian, C order). */
    public static byte[] toBytes(HostTensor t) {
        StringBuilder shape = new StringBuilder("(");
        for (int i = 0; i < t.shape().length; i++) shape.append(t.shape()[i]).append(t.shape().length == 1 ? "," : i + 1 < t.shape().length ? ", " : "");
        shape.append(")");
        String h = "{'descr': '" + descrOf(t.dtype()) + "', 'fortran_order': False, 'shape': " + shape + ", }";
        int total = 10 + h.length() + 1;
        int pad = (64 - total % 64) % 64;
        h = h + " ".repeat(pad) + "\n";
        byte[] hb = h.getBytes(StandardCharsets.ISO_8859_1);
        ByteBuffer data = t.data().duplicate();
        byte[] out = new byte[10 + hb.length + data.remaining()];
        System.arraycopy(MAGIC, 0, out, 0, 6);
        out[6] = 1;
        out[7] = 0;
        out[8] = (byte) (hb.length & 0xff);
        out[9] = (byte) (hb.length >>> 8);
        System.arraycopy(hb, 0, out, 10, hb.length);
        data.get(out, 10 + hb.length, data.remaining());
        return out;
    }

    /** Writes a .npy file atomically (temporary file in the same folder, then rename). */
    public static void write(Path file, HostTensor t) throws IOException {
        AtomicFiles.write(file, out -> out.write(toBytes(t)));
    }

    static DType dtypeOf(String descr, Path file, String name) {
        String c = descr.length() > 1 && "<>|=".indexOf(descr.charAt(0)) >= 0 ? descr.substring(1) : descr;
        return switch (c) {
            case "f8" -> DType.F64;
            case "f4" -> DType.F32;
            case "f2" -> DType.F16;
            case "i8" -> DType.I64;
            case "i4" -> DType.I32;
            case "i2" -> DType.I16;
            case "i1" -> DType.I8;
            case "u1" -> DType.U8;
            case "b1" -> DType.BOOL;
            default -> throw new CheckpointException(file, name, "unsupported .npy dtype '" + descr + "'");
        };
    }

    static String descrOf(DType t) {
        return switch (t) {
            case F64 -> "<f8";
            case F32 -> "<f4";
            case F16 -> "<f2";
            case I64 -> "<i8";
            case I32 -> "<i4";
            case I16 -> "<i2";
            case I8 -> "|i1";
            case U8 -> "|u1";
            case BOOL -> "|b1";
            case BF16 -> throw new IllegalArgumentException("numpy has no bfloat16");
        };
    }

    private static ByteBuffer swap(ByteBuffer src, int size) {
        byte[] a = new byte[src.remaining()];
        src.duplicate().get(a);
        for (int i = 0; i < a.length; i += size)
            for (int j = 0; j < size / 2; j++) {
                byte x = a[i + j]; a[i + j] = a[i + size - 1 - j]; a[i + size - 1 - j] = x;
            }
        return ByteBuffer.wrap(a);
    }

    private static ByteBuffer fortranToC(ByteBuffer src, long[] shape, int size) {
        int n = Math.toIntExact(HostTensor.numel(shape)), r = shape.length;
        byte[] in = new byte[src.remaining()], out = new byte[in.length];
        src.duplicate().get(in);
        int[] idx = new int[r];
        for (int c = 0; c < n; c++) {           // c walks the C-order index
            int fo = 0, stride = 1;
            for (int k = 0; k < r; k++) { fo += idx[k] * stride; stride *= (int) shape[k]; }
            System.arraycopy(in, fo * size, out, c * size, size);
            for (int k = r - 1; k >= 0; k--) { if (++idx[k] < shape[k]) break; idx[k] = 0; }
        }
        return ByteBuffer.wrap(out);
    }
}
