package dev.cvpt.io;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * Reading zip archives (.npz, torch.save) defensively: sizes are checked against the file before
 * anything is allocated, CRCs are verified (ZipFile does not), and every failure of the archive
 * itself becomes a {@link CheckpointException} naming the file and the entry.
 */
final class Zips {
    /** Deflate cannot expand data by more than about 1032:1; anything claiming more is lying. */
    private static final long MAX_DEFLATE_RATIO = 1100;
    /** Java arrays hold at most this many bytes. */
    static final long MAX_ENTRY_BYTES = Integer.MAX_VALUE - 16;

    private Zips() {}

    static boolean looksLikeZip(byte[] head) {
        return head.length >= 4 && head[0] == 'P' && head[1] == 'K'
                && ((head[2] == 3 && head[3] == 4) || (head[2] == 5 && head[3] == 6));
    }

    static ZipFile open(Path file) {
        try {
            return new ZipFile(file.toFile());
        } catch (IOException | RuntimeException e) {
            throw new CheckpointException(file, null, "not a readable zip archive (" + describe(e) + ")", e);
        }
    }

    /** The file's entries in archive order, directories left out. */
    static List<ZipEntry> entries(ZipFile zip, Path file) {
        try {
            List<ZipEntry> out = new ArrayList<>();
            for (ZipEntry e : Collections.list(zip.entries()))
                if (!e.isDirectory()) out.add(e);
            return out;
        } catch (RuntimeException e) {
            throw new CheckpointException(file, null, "corrupt zip directory (" + describe(e) + ")", e);
        }
    }

    /** Reads one entry fully, refusing sizes the file cannot back and data whose CRC does not match. */
    static byte[] read(ZipFile zip, ZipEntry entry, Path file, String name, long maxBytes) {
        long size = entry.getSize(), packed = entry.getCompressedSize(), fileSize;
        try {
            fileSize = Files.size(file);
        } catch (IOException e) {
            throw new CheckpointException(file, null, "cannot read: " + describe(e), e);
        }
        if (size < 0 || packed < 0)
            throw new CheckpointException(file, name, "zip entry without a declared size");
        boolean stored = entry.getMethod() == ZipEntry.STORED;
        if (packed > fileSize || (stored && size > fileSize)
                || (!stored && size > packed * MAX_DEFLATE_RATIO + 1024))
            throw new CheckpointException(file, name, "zip entry claims " + size + " bytes, more than the "
                    + fileSize + "-byte file can hold (truncated or corrupt archive)");
        if (size > Math.min(maxBytes, MAX_ENTRY_BYTES))
            throw new CheckpointException(file, name, "zip entry of " + size + " bytes is too large (limit "
                    + Math.min(maxBytes, MAX_ENTRY_BYTES) + ")");
        byte[] out = new byte[(int) size];
        try (InputStream in = zip.getInputStream(entry)) {
            int n = in.readNBytes(out, 0, out.length);
            if (n != out.length)
                throw new CheckpointException(file, name, "zip entry holds " + n + " bytes, declared " + size + " (truncated archive)");
            if (in.read() >= 0)
                throw new CheckpointException(file, name, "zip entry holds more bytes than the declared " + size);
        } catch (IOException | RuntimeException e) {
            if (e instanceof CheckpointException ce) throw ce;
            throw new CheckpointException(file, name, "corrupt zip entry (" + describe(e) + ")", e);
        }
        CRC32 crc = new CRC32();
        crc.update(out);
        if (entry.getCrc() != -1 && crc.getValue() != entry.getCrc())
            throw new CheckpointException(file, name, "zip entry fails its CRC check (corrupt archive)");
        return out;
    }

    static String describe(Throwable e) {
        String m = e.getMessage();
        return e.getClass().getSimpleName() + (m == null || m.isBlank() ? "" : ": " + oneLine(m, 200));
    }

    /** Text from a file, made safe to show on one line of a message. */
    static String oneLine(String s, int max) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < s.length() && sb.length() < max; i++) {
            char c = s.charAt(i);
            sb.append(Character.isISOControl(c) ? '?' : c);
        }
        if (s.length() > max) sb.append("...");
        return sb.toString();
    }
}
