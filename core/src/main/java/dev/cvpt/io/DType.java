package dev.cvpt.io;

/** Element types that appear in checkpoints (numpy, safetensors and torch names map onto these). */
public enum DType {
    F64(8), F32(4), F16(2), BF16(2), I64(8), I32(4), I16(2), I8(1), U8(1), BOOL(1);

    public final int size;

    DType(int size) { this.size = size; }

    public boolean isFloating() { return this == F64 || this == F32 || this == F16 || this == BF16; }
}
