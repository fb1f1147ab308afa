package dev.cvpt.io;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalInt;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * A ViT backbone checkpoint under timm parameter names, floating tensors as F32 (integer tensors keep
 * their type). {@code heads} is known when the file says it: from the query kernel of a JAX .npz, or
 * the "heads" metadata entry of a .safetensors file.
 */
public record Checkpoint(Path file, Map<String, HostTensor> tensors, OptionalInt heads, Map<String, String> metadata) {

    public Checkpoint {
        tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
        metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    }

    private static final String FORMATS = "expected an .npz (official JAX/Flax ViT layout), a .safetensors file"
            + " or a .pth/.pt written by torch.save";

    /** Loads any of the three formats, recognised by content (not by file name). */
    public static Checkpoint load(Path file) {
        byte[] head;
        try (InputStream in = Files.newInputStream(file)) {
            head = in.readNBytes(16);
        } catch (IOException e) {
            throw new CheckpointException(file, null, "cannot read: " + Zips.describe(e), e);
        }
        Checkpoint c;
        if (Zips.looksLikeZip(head)) {
            c = switch (zipKind(file)) {
                case "pth" -> new Checkpoint(file, Pth.read(file), OptionalInt.empty(), Map.of());
                case "npz" -> fromNpz(file, Npz.read(file));
                default -> throw new CheckpointException(file, null, "zip archive holds neither .npy arrays nor a data.pkl; " + FORMATS);
            };
        } else if (head.length > 8 && head[8] == '{') {
            Safetensors.SafetensorsFile s = Safetensors.read(file);
            c = new Checkpoint(file, s.tensors(), heads(s.metadata(), file), s.metadata());
        } else if (head.length > 0 && (head[0] & 0xff) == 0x80) {
            c = new Checkpoint(file, Pth.read(file), OptionalInt.empty(), Map.of()); // Pth explains the legacy format
        } else {
            throw new CheckpointException(file, null, "not a checkpoint: " + FORMATS);
        }
        if (c.tensors.isEmpty()) throw new CheckpointException(file, null, "holds no tensors");
        Map<String, HostTensor> out = new LinkedHashMap<>();
        c.tensors.forEach((name, t) -> {
            String n = name.startsWith("module.") ? name.substring(7) : name;
            if (out.put(n, toF32(t)) != null) throw new CheckpointException(file, n, "appears twice (once with a 'module.' prefix)");
        });
        return new Checkpoint(file, out, c.heads, c.metadata);
    }

    private static String zipKind(Path file) {
        try (ZipFile zip = Zips.open(file)) {
            boolean npy = false;
            for (ZipEntry e : Zips.entries(zip, file)) {
                String n = e.getName();
                if (n.endsWith("/data.pkl") && n.indexOf('/') == n.length() - 9) return "pth";
                npy |= n.endsWith(".npy");
            }
            return npy ? "npz" : "";
        } catch (IOException e) {
            throw new CheckpointException(file, null, "cannot read: " + Zips.describe(e), e);
        }
    }

    private static OptionalInt heads(Map<String, String> metadata, Path file) {
        String h = metadata.get("heads");
        if (h == null) return OptionalInt.empty();
        try {
            int v = Integer.parseInt(h.strip());
            if (v > 0) return OptionalInt.of(v);
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new CheckpointException(file, null, "metadata 'heads' is '" + Zips.oneLine(h, 40) + "', expected a positive integer");
    }

    static HostTensor toF32(HostTensor t) {
        return t.dtype().isFloating() && t.dtype() != DType.F32 ? HostTensor.ofFloats(t.toFloats(), t.shape()) : t;
    }

    // ---- official JAX/Flax ViT .npz -> timm names (as npz_to_timm in the reference) ----

    private static Checkpoint fromNpz(Path file, Map<String, HostTensor> w) {
        String prefix = !w.containsKey("embedding/kernel") && w.containsKey("opt/target/embedding/kernel") ? "opt/target/" : "";
        if (prefix.isEmpty() && !w.containsKey("embedding/kernel") && w.containsKey("patch_embed.proj.weight"))
            return new Checkpoint(file, w, OptionalInt.empty(), Map.of()); // already timm names
        return new Jax(file, w, prefix).convert();
    }

    private static final class Jax {
        private final Path file;
        private final Map<String, HostTensor> w;
        private final String prefix;
        private final Map<String, HostTensor> sd = new LinkedHashMap<>();

        Jax(Path file, Map<String, HostTensor> w, String prefix) {
            this.file = file;
            this.w = w;
            this.prefix = prefix;
        }

        Checkpoint convert() {
            HostTensor emb = get("embedding/kernel", -1, -1, -1, -1);  // HWIO
            long[] k = emb.shape();
            long c = k[3];
            sd.put("patch_embed.proj.weight", permuteHwioToOihw(emb));
            sd.put("patch_embed.proj.bias", f32(get("embedding/bias", c)));
            sd.put("cls_token", f32(get("cls", 1, 1, c)));
            sd.put("pos_embed", f32(get("Transformer/posembed_input/pos_embedding", 1, -1, c)));
            sd.put("norm.weight", f32(get("Transformer/encoder_norm/scale", c)));
            sd.put("norm.bias", f32(get("Transformer/encoder_norm/bias", c)));
            if (w.containsKey(prefix + "head/kernel")) {
                HostTensor hk = get("head/kernel", c, -1);
                sd.put("head.weight", transpose(hk));
                sd.put("head.bias", f32(get("head/bias", hk.shape()[1])));
            }
            String blockPrefix = prefix + "Transformer/encoderblock_";
            long depth = w.keySet().stream().filter(n -> n.startsWith(blockPrefix) && n.endsWith("LayerNorm_0/scale")).count();
            if (depth == 0) get("Transformer/encoderblock_0/LayerNorm_0/scale", c); // names the missing entry
            long heads = get("Transformer/encoderblock_0/MultiHeadDotProductAttention_1/query/kernel", c, -1, -1).shape()[1];
            if (heads == 0 || c % heads != 0)
                throw new CheckpointException(file, prefix + "Transformer/encoderblock_0/MultiHeadDotProductAttention_1/query/kernel",
                        heads + " heads do not divide the width " + c);
            long hd = c / heads;
            for (int i = 0; i < depth; i++) {
                String b = "Transformer/encoderblock_" + i + "/", t = "blocks." + i + ".", m = b + "MultiHeadDotProductAttention_1/";
                sd.put(t + "norm1.weight", f32(get(b + "LayerNorm_0/scale", c)));
                sd.put(t + "norm1.bias", f32(get(b + "LayerNorm_0/bias", c)));
                sd.put(t + "norm2.weight", f32(get(b + "LayerNorm_2/scale", c)));
                sd.put(t + "norm2.bias", f32(get(b + "LayerNorm_2/bias", c)));
                // q/k/v kernels [C, h, d] are (in, out) matrices [C, C]; timm stacks their transposes.
                float[] qkv = new float[(int) (3 * c * c)], qkvBias = new float[(int) (3 * c)];
                String[] parts = {"query", "key", "value"};
                for (int p = 0; p < 3; p++) {
                    float[] kt = transposed(get(m + parts[p] + "/kernel", c, heads, hd).toFloats(), (int) c, (int) c);
                    System.arraycopy(kt, 0, qkv, (int) (p * c * c), kt.length);
                    System.arraycopy(get(m + parts[p] + "/bias", heads, hd).toFloats(), 0, qkvBias, (int) (p * c), (int) c);
                }
                sd.put(t + "attn.qkv.weight", HostTensor.ofFloats(qkv, 3 * c, c));
                sd.put(t + "attn.qkv.bias", HostTensor.ofFloats(qkvBias, 3 * c));
                // out kernel [h, d, C] is an (in = h*d, out = C) matrix.
                sd.put(t + "attn.proj.weight", HostTensor.ofFloats(transposed(get(m + "out/kernel", heads, hd, c).toFloats(), (int) c, (int) c), c, c));
                sd.put(t + "attn.proj.bias", f32(get(m + "out/bias", c)));
                HostTensor fc1 = get(b + "MlpBlock_3/Dense_0/kernel", c, -1);
                long hidden = fc1.shape()[1];
                sd.put(t + "mlp.fc1.weight", transpose(fc1));
                sd.put(t + "mlp.fc1.bias", f32(get(b + "MlpBlock_3/Dense_0/bias", hidden)));
                sd.put(t + "mlp.fc2.weight", transpose(get(b + "MlpBlock_3/Dense_1/kernel", hidden, c)));
                sd.put(t + "mlp.fc2.bias", f32(get(b + "MlpBlock_3/Dense_1/bias", c)));
            }
            return new Checkpoint(file, sd, OptionalInt.of(Math.toIntExact(heads)), Map.of());
        }

        /** The entry, checked to be floating with the given shape (-1: any size). */
        private HostTensor get(String name, long... shape) {
            HostTensor t = w.get(prefix + name);
            if (t == null)
                throw new CheckpointException(file, prefix + name, "missing entry (expected the official JAX/Flax ViT .npz layout)");
            boolean ok = t.rank() == shape.length && t.dtype().isFloating();
            for (int i = 0; ok && i < shape.length; i++) ok = shape[i] < 0 || shape[i] == t.shape()[i];
            if (!ok) {
                StringBuilder want = new StringBuilder("[");
                for (int i = 0; i < shape.length; i++) want.append(i > 0 ? ", " : "").append(shape[i] < 0 ? "?" : String.valueOf(shape[i]));
                throw new CheckpointException(file, prefix + name, "is " + t.dtype() + " " + t.shapeString()
                        + ", expected a floating tensor of shape " + want + "]");
            }
            return t;
        }

        private static HostTensor f32(HostTensor t) { return toF32(t); }

        private static HostTensor transpose(HostTensor t) {
            int r = (int) t.shape()[0], c = (int) t.shape()[1];
            return HostTensor.ofFloats(transposed(t.toFloats(), r, c), c, r);
        }

        private static float[] transposed(float[] a, int rows, int cols) {
            float[] out = new float[a.length];
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j];
            return out;
        }

        /** [H, W, I, O] -> [O, I, H, W]. */
        private static HostTensor permuteHwioToOihw(HostTensor t) {
            int h = (int) t.shape()[0], wd = (int) t.shape()[1], in = (int) t.shape()[2], o = (int) t.shape()[3];
            float[] a = t.toFloats(), out = new float[a.length];
            for (int y = 0; y < h; y++)
                for (int x = 0; x < wd; x++)
                    for (int i = 0; i < in; i++)
                        for (int oc = 0; oc < o; oc++)
                            out[((oc * in + i) * h + y) * wd + x] = a[((y * wd + x) * in + i) * o + oc];
            return HostTensor.ofFloats(out, o, in, h, wd);
        }
    }

    @Override
    public String toString() {
        return "Checkpoint[" + file + ", " + tensors.size() + " tensors, heads " + (heads.isPresent() ? heads.getAsInt() : "?") + "]";
    }
}
