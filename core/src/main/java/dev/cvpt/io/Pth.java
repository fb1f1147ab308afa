package dev.cvpt.io;

import dev.cvpt.io.TorchUnpickler.PDict;
import dev.cvpt.io.TorchUnpickler.Storage;
import dev.cvpt.io.TorchUnpickler.TensorRef;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * PyTorch checkpoints written by torch.save (the zip format of torch >= 1.6): PREFIX/data.pkl holds
 * the pickled object, PREFIX/data/KEY the bytes of each storage. The pickle is read by
 * {@link TorchUnpickler}, which refuses anything but dicts, lists, plain values and tensors.
 */
public final class Pth {
    /** data.pkl of a state dict is a few hundred bytes per tensor; this leaves ample room. */
    static final long MAX_PICKLE_BYTES = 256L << 20;
    private static final List<String> WRAPPERS = List.of("model", "state_dict", "module");

    private Pth() {}

    /**
     * The tensors of a state dict by name, in pickle order. When the top-level dict holds a dict of
     * tensors under 'model', 'state_dict' or 'module', that one is used; a 'module.' prefix is
     * stripped; entries that are not tensors are ignored.
     */
    public static Map<String, HostTensor> read(Path file) {
        byte[] head = head(file);
        if (!Zips.looksLikeZip(head)) {
            if (head.length > 0 && (head[0] & 0xff) == 0x80)
                throw new CheckpointException(file, null, "legacy torch.save format is not supported; re-save with torch >= 1.6");
            throw new CheckpointException(file, null, "not a torch.save zip file");
        }
        try (ZipFile zip = Zips.open(file)) {
            Map<String, ZipEntry> byName = new LinkedHashMap<>();
            String prefix = null;
            for (ZipEntry e : Zips.entries(zip, file)) {
                byName.put(e.getName(), e);
                String n = e.getName();
                if (n.endsWith("/data.pkl") && n.indexOf('/') == n.length() - 9) {
                    if (prefix != null) throw new CheckpointException(file, null, "torch.save archive holds more than one data.pkl");
                    prefix = n.substring(0, n.length() - 9);
                }
            }
            if (prefix == null) throw new CheckpointException(file, null, "not a torch.save archive: no data.pkl entry");
            boolean bigEndian = false;
            ZipEntry order = byName.get(prefix + "/byteorder");
            if (order != null) {
                String s = new String(Zips.read(zip, order, file, "byteorder", 16), StandardCharsets.US_ASCII).strip();
                if (!s.equals("little") && !s.equals("big"))
                    throw new CheckpointException(file, null, "byteorder entry says '" + Zips.oneLine(s, 16) + "'");
                bigEndian = s.equals("big");
            }
            byte[] pickle = Zips.read(zip, byName.get(prefix + "/data.pkl"), file, "data.pkl", MAX_PICKLE_BYTES);
            PDict dict = stateDict(TorchUnpickler.load(pickle, file), file);

            Map<String, byte[]> storageBytes = new HashMap<>();
            Map<String, HostTensor> out = new LinkedHashMap<>();
            for (Map.Entry<Object, Object> kv : dict.items.entrySet()) {
                if (!(kv.getKey() instanceof String key) || !(kv.getValue() instanceof TensorRef ref)) continue;
                String name = key.startsWith("module.") ? key.substring(7) : key;
                byte[] bytes = storageBytes.get(ref.storage().key());
                if (bytes == null) {
                    bytes = storage(zip, byName, prefix, ref.storage(), file, name);
                    storageBytes.put(ref.storage().key(), bytes);
                }
                if (out.put(name, materialize(ref, bytes, bigEndian, file, name)) != null)
                    throw new CheckpointException(file, name, "appears twice (once with a 'module.' prefix)");
            }
            return out;
        } catch (IOException e) { // from close()
            throw new CheckpointException(file, null, "cannot read: " + Zips.describe(e), e);
        }
    }

    private static byte[] head(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            return in.readNBytes(16);
        } catch (IOException e) {
            throw new CheckpointException(file, null, "cannot read: " + Zips.describe(e), e);
        }
    }

    private static PDict stateDict(Object top, Path file) {
        if (!(top instanceof PDict d))
            throw new CheckpointException(file, null, "expected a dict of tensors, the file holds a " + TorchUnpickler.typeName(top));
        for (String w : WRAPPERS)
            if (d.items.get(w) instanceof PDict inner && inner.items.values().stream().anyMatch(v -> v instanceof TensorRef))
                return inner;
        return d;
    }

    private static byte[] storage(ZipFile zip, Map<String, ZipEntry> byName, String prefix, Storage s, Path file, String tensor) {
        ZipEntry e = byName.get(prefix + "/data/" + s.key());
        if (e == null) throw new CheckpointException(file, tensor, "storage data/" + s.key() + " is missing from the archive");
        long need = s.numel() * s.dtype().size;
        if (e.getSize() != need)
            throw new CheckpointException(file, tensor, "storage data/" + s.key() + " holds " + e.getSize() + " bytes, "
                    + s.numel() + " elements of " + s.dtype() + " need " + need);
        return Zips.read(zip, e, file, tensor, need);
    }

    /** Copies a strided view out of its storage into a contiguous C-order tensor. */
    private static HostTensor materialize(TensorRef ref, byte[] storage, boolean bigEndian, Path file, String name) {
        DType dt = ref.storage().dtype();
        long[] size = ref.size(), stride = ref.stride();
        int es = dt.size;
        long numel, last = ref.offset();
        try {
            numel = HostTensor.numel(size);
            for (int i = 0; i < size.length; i++)
                if (size[i] > 0) last = Math.addExact(last, Math.multiplyExact(size[i] - 1, stride[i]));
        } catch (ArithmeticException e) {
            throw new CheckpointException(file, name, "tensor shape " + java.util.Arrays.toString(size) + " is too large");
        }
        long storageNumel = ref.storage().numel();
        // A view reaching past its storage is corrupt; one with more elements than its storage (a
        // broadcast, stride 0) would let a tiny file claim gigabytes, so it is refused too.
        if (numel > 0 && (last >= storageNumel || numel > storageNumel))
            throw new CheckpointException(file, name, "tensor view (offset " + ref.offset() + ", size "
                    + java.util.Arrays.toString(size) + ", stride " + java.util.Arrays.toString(stride)
                    + ") does not fit in its storage of " + storageNumel + " elements");
        byte[] out = new byte[Math.toIntExact(numel * es)];
        int r = size.length;
        if (numel > 0 && contiguous(size, stride)) {
            System.arraycopy(storage, (int) (ref.offset() * es), out, 0, out.length);
        } else if (numel > 0) {
            long[] idx = new long[r];
            long src = ref.offset();
            for (int o = 0; o < numel; o++) {
                System.arraycopy(storage, (int) (src * es), out, o * es, es);
                for (int k = r - 1; k >= 0; k--) {           // odometer over the C-order index
                    src += stride[k];
                    if (++idx[k] < size[k]) break;
                    src -= stride[k] * size[k];
                    idx[k] = 0;
                }
            }
        }
        if (bigEndian && es > 1)
            for (int i = 0; i < out.length; i += es)
                for (int j = 0; j < es / 2; j++) {
                    byte x = out[i + j]; out[i + j] = out[i + es - 1 - j]; out[i + es - 1 - j] = x;
                }
        return new HostTensor(dt, size.clone(), ByteBuffer.wrap(out));
    }

    private static boolean contiguous(long[] size, long[] stride) {
        long expect = 1;
        for (int k = size.length - 1; k >= 0; k--) {
            if (size[k] != 1 && stride[k] != expect) return false;
            expect *= size[k];
        }
        return true;
    }
}
