package dev.cvpt.io;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A tensor in Java memory, as read from or written to a file: dtype, shape and the raw
 * little-endian bytes (row-major, contiguous). Engine-independent, so the readers need no libtorch.
 */
public record HostTensor(DType dtype, long[] shape, ByteBuffer data) {

    public HostTensor {
        data = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        long n = numel(shape);
        if (n * dtype.size != data.remaining())
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " of " + dtype
                    + " needs " + n * dtype.size + " bytes, got " + data.remaining());
    }

    public static long numel(long[] shape) {
        long n = 1;
        for (long s : shape) n = Math.multiplyExact(n, s);
        return n;
    }

    public long numel() { return numel(shape); }

    public int rank() { return shape.length; }

    public static HostTensor ofFloats(float[] values, long... shape) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        return new HostTensor(DType.F32, shape.clone(), b);
    }

    public static HostTensor ofLongs(long[] values, long... shape) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        b.asLongBuffer().put(values);
        return new HostTensor(DType.I64, shape.clone(), b);
    }

    /** Values converted to float32 (from any floating or integer dtype). */
    public float[] toFloats() {
        int n = Math.toIntExact(numel());
        float[] out = new float[n];
        ByteBuffer b = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        switch (dtype) {
            case F32 -> b.asFloatBuffer().get(out);
            case F64 -> { for (int i = 0; i < n; i++) out[i] = (float) b.getDouble(b.position() + 8 * i); }
            case F16 -> { for (int i = 0; i < n; i++) out[i] = halfToFloat(b.getShort(b.position() + 2 * i)); }
            case BF16 -> { for (int i = 0; i < n; i++) out[i] = Float.intBitsToFloat((b.getShort(b.position() + 2 * i) & 0xffff) << 16); }
            case I64 -> { for (int i = 0; i < n; i++) out[i] = b.getLong(b.position() + 8 * i); }
            case I32 -> { for (int i = 0; i < n; i++) out[i] = b.getInt(b.position() + 4 * i); }
            case I16 -> { for (int i = 0; i < n; i++) out[i] = b.getShort(b.position() + 2 * i); }
            case I8 -> { for (int i = 0; i < n; i++) out[i] = b.get(b.position() + i); }
            case U8, BOOL -> { for (int i = 0; i < n; i++) out[i] = b.get(b.position() + i) & 0xff; }
        }
        return out;
    }

    /** Values converted to int64 (integer dtypes; floating values are truncated). */
    public long[] toLongs() {
        int n = Math.toIntExact(numel());
        long[] out = new long[n];
        ByteBuffer b = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        switch (dtype) {
            case I64 -> b.asLongBuffer().get(out);
            case I32 -> { for (int i = 0; i < n; i++) out[i] = b.getInt(b.position() + 4 * i); }
            case I16 -> { for (int i = 0; i < n; i++) out[i] = b.getShort(b.position() + 2 * i); }
            case I8 -> { for (int i = 0; i < n; i++) out[i] = b.get(b.position() + i); }
            case U8, BOOL -> { for (int i = 0; i < n; i++) out[i] = b.get(b.position() + i) & 0xff; }
            default -> { float[] f = toFloats(); for (int i = 0; i < n; i++) out[i] = (long) f[i]; }
        }
        return out;
    }

    /** IEEE 754 binary16 to float (Float.float16ToFloat exists only from Java 20). */
    public static float halfToFloat(short h) {
        int bits = h & 0xffff, sign = (bits & 0x8000) << 16, exp = (bits >>> 10) & 0x1f, mant = bits & 0x3ff;
        if (exp == 0x1f) return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        if (exp == 0) {
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    public String shapeString() { return Arrays.toString(shape); }

    @Override
    public String toString() { return "HostTensor[" + dtype + " " + shapeString() + "]"; }
}
