package dev.cvpt.io;

import java.io.IOException;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

/** NumPy .npz archives: a zip of .npy arrays, stored (np.savez) or deflated (np.savez_compressed). */
public final class Npz {
    /** Fixed entry time, so that the same arrays always give the same bytes. */
    private static final LocalDateTime ENTRY_TIME = LocalDateTime.of(1980, 1, 1, 0, 0);

    private Npz() {}

    /** All arrays, in archive order, named as numpy names them (the entry name without ".npy"). */
    public static Map<String, HostTensor> read(Path file) {
        try (ZipFile zip = Zips.open(file)) {
            Map<String, HostTensor> out = new LinkedHashMap<>();
            for (ZipEntry e : Zips.entries(zip, file)) {
                String name = e.getName().endsWith(".npy") ? e.getName().substring(0, e.getName().length() - 4) : e.getName();
                byte[] bytes = Zips.read(zip, e, file, name, Zips.MAX_ENTRY_BYTES);
                if (out.put(name, Npy.parse(bytes, file, name)) != null)
                    throw new CheckpointException(file, name, "appears twice in the archive");
            }
            return out;
        } catch (IOException e) { // from close()
            throw new CheckpointException(file, null, "cannot read: " + Zips.describe(e), e);
        }
    }

    /** Writes the arrays as np.savez would (stored entries NAME.npy), atomically. */
    public static void write(Path file, Map<String, HostTensor> arrays) throws IOException {
        AtomicFiles.write(file, out -> {
            ZipOutputStream zip = new ZipOutputStream(out);
            for (Map.Entry<String, HostTensor> a : arrays.entrySet()) {
                byte[] bytes = Npy.toBytes(a.getValue());
                ZipEntry e = new ZipEntry(a.getKey() + ".npy");
                CRC32 crc = new CRC32();
                crc.update(bytes);
                e.setMethod(ZipEntry.STORED);
                e.setSize(bytes.length);
                e.setCompressedSize(bytes.length);
                e.setCrc(crc.getValue());
                e.setTimeLocal(ENTRY_TIME);
                zip.putNextEntry(e);
                zip.write(bytes);
                zip.closeEntry();
            }
            zip.finish();
        });
    }
}
