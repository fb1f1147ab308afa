package dev.cvpt.engine;

import dev.cvpt.io.HostTensor;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.Arrays;

/** Small conversions between Java data and libtorch tensors. */
public final class Tensors {
    private Tensors() {}

    /** A new float32 tensor holding a copy of the values. */
    public static Tensor fromFloats(float[] values, long... shape) {
        Native.load();
        return Tensor.create(values, shape);
    }

    public static Tensor fromLongs(long[] values, long... shape) {
        Native.load();
        return Tensor.create(values, shape);
    }

    /** Float tensors become float32, integer tensors int64. */
    public static Tensor fromHost(HostTensor h) {
        return h.dtype().isFloating() ? fromFloats(h.toFloats(), h.shape()) : fromLongs(h.toLongs(), h.shape());
    }

    public static float[] toFloats(Tensor t) {
        Tensor c = t.detach().to(torch.ScalarType.Float).contiguous();
        float[] out = new float[Math.toIntExact(c.numel())];
        ((FloatBuffer) c.createBuffer()).get(out);
        return out;
    }

    public static long[] toLongs(Tensor t) {
        Tensor c = t.detach().to(torch.ScalarType.Long).contiguous();
        long[] out = new long[Math.toIntExact(c.numel())];
        ((LongBuffer) c.createBuffer()).get(out);
        return out;
    }

    /**
     * Whether t holds elements of type s. (The presets hand back a ScalarType instance that is not
     * the enum constant, so {@code t.scalar_type() == s} is always false: compare the values.)
     */
    public static boolean is(Tensor t, torch.ScalarType s) {
        return t.scalar_type().value == s.value;
    }

    /** Whether autograd will want t's gradient: grad mode on and t requiring it. */
    public static boolean needsGrad(Tensor t) {
        return org.bytedeco.pytorch.GradMode.is_enabled() && t.requires_grad();
    }

    public static HostTensor toHost(Tensor t) {
        return is(t, torch.ScalarType.Long)
                ? HostTensor.ofLongs(toLongs(t), t.shape())
                : HostTensor.ofFloats(toFloats(t), t.shape());
    }

    /**
     * Copies tensor {@code name} of {@code src} (read from {@code file}) into a model tensor of the
     * same shape; a missing or misshapen one is a {@link dev.cvpt.io.CheckpointException} naming
     * the file and the tensor ({@code what} says what the file is, e.g. "the task file").
     */
    public static void copyInto(Tensor dst, java.nio.file.Path file, java.util.Map<String, HostTensor> src, String name, String what) {
        HostTensor h = src.get(name);
        if (h == null) throw new dev.cvpt.io.CheckpointException(file, name, "missing from " + what);
        if (!Arrays.equals(h.shape(), dst.shape()))
            throw new dev.cvpt.io.CheckpointException(file, name, "expected shape " + shape(dst) + " for this backbone, got " + h.shapeString());
        try (org.bytedeco.javacpp.PointerScope s = new org.bytedeco.javacpp.PointerScope()) {
            dst.copy_(fromHost(h));
        }
    }

    /** The raw bytes of a uint8 tensor (e.g. a generator state). */
    public static byte[] toBytes(Tensor t) {
        Tensor c = t.contiguous();
        byte[] out = new byte[Math.toIntExact(c.numel())];
        ((java.nio.ByteBuffer) c.createBuffer()).get(out);
        return out;
    }

    /** A uint8 tensor holding a copy of the bytes. */
    public static Tensor fromBytes(byte[] b) {
        Native.load();
        return Tensor.create(b, false, b.length);
    }

    public static Scalar scalar(double v) { return new Scalar(v); }

    public static TensorOptional opt(Tensor t) { return t == null ? new TensorOptional() : new TensorOptional(t); }

    public static String shape(Tensor t) { return Arrays.toString(t.shape()); }
}
