package dev.cvpt.robust;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

import static org.junit.jupiter.api.Assertions.*;

/** preprocess and predict on files that are empty, truncated, not images or decompression bombs: exit 2, the file named. */
class BrokenImagesTest {
    @TempDir static Path tmp;

    record Case(String name, Path file, String fragment) {}

    static final List<Case> CASES = new ArrayList<>();

    @BeforeAll
    static void makeBrokenImages() throws IOException {
        byte[] png = Files.readAllBytes(Fixtures.image());
        byte[] jpg = Files.readAllBytes(dev.cvpt.TestData.shared().resolve("images/cmyk.jpg"));
        add("empty", "empty.jpg", new byte[0], "not a supported image format");
        add("truncated-png", "cut.png", Arrays.copyOf(png, png.length / 2), "not a readable image");
        add("png-signature-only", "sig.png", Arrays.copyOf(png, 40), "not a readable image");
        add("truncated-jpeg", "cut.jpg", Arrays.copyOf(jpg, 300), "not a readable image");
        add("jpeg-magic-only", "magic.jpg", new byte[]{(byte) 0xFF, (byte) 0xD8, (byte) 0xFF, 0, 1, 2}, "not a readable image");
        add("text-named-jpg", "notes.jpg", "this is not an image\n".getBytes(), "not a supported image format");
        byte[] noise = new byte[4096];
        new java.util.Random(3).nextBytes(noise);
        add("random-bytes", "noise.png", noise, "not a supported image format");
        add("png-bomb-100000x100000", "bomb.png", pngHeader(100_000, 100_000), "exceeds the limit");
        add("png-bomb-20000x20000", "bomb2.png", pngHeader(20_000, 20_000), "exceeds the limit");
        add("png-zero-size", "zero.png", pngHeader(0, 0), "not a readable image");
        ByteBuffer gb = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN).put("GIF89a".getBytes()).putShort((short) -1).putShort((short) -1)
                .put(new byte[]{0, 0, 0, ','}).putShort((short) 0).putShort((short) 0).putShort((short) -1).putShort((short) -1)
                .put(new byte[]{0, 2, 2, 0x44, 1, 0, ';'});
        byte[] gif = Arrays.copyOf(gb.array(), gb.position());
        add("gif-bomb-65535x65535", "bomb.gif", gif, "exceeds the limit");
        byte[] flipped = png.clone();
        flipped[20] ^= 0x10; // the top byte of the IHDR height
        // ImageIO does not check chunk CRCs: the flipped bit makes the height 268435488, which the pixel limit refuses
        add("png-ihdr-bitflip", "crc.png", flipped, "exceeds the limit");
        CASES.add(new Case("missing-file", tmp.resolve("nothere.png"), "no such file"));
        CASES.add(new Case("a-directory", Files.createDirectories(tmp.resolve("folder.png")), "cannot read"));
    }

    private static void add(String name, String file, byte[] bytes, String fragment) throws IOException {
        CASES.add(new Case(name, Files.write(tmp.resolve(file), bytes), fragment));
    }

    /** A PNG whose IHDR claims w x h RGB pixels, with a tiny IDAT. */
    static byte[] pngHeader(int w, int h) {
        ByteBuffer b = ByteBuffer.allocate(200);
        b.put(new byte[]{(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
        chunk(b, "IHDR", ByteBuffer.allocate(13).putInt(w).putInt(h).put(new byte[]{8, 2, 0, 0, 0}).array());
        Deflater d = new Deflater();
        d.setInput(new byte[100]);
        d.finish();
        byte[] z = new byte[100];
        int n = d.deflate(z);
        chunk(b, "IDAT", Arrays.copyOf(z, n));
        chunk(b, "IEND", new byte[0]);
        return Arrays.copyOf(b.array(), b.position());
    }

    private static void chunk(ByteBuffer b, String type, byte[] data) {
        CRC32 crc = new CRC32();
        crc.update(type.getBytes());
        crc.update(data);
        b.putInt(data.length).put(type.getBytes()).put(data).putInt((int) crc.getValue());
    }

    @Test
    @Timeout(120)
    void preprocessAndPredictNameTheBadImage() {
        Path task = Fixtures.task();
        String good = Fixtures.image().toString();
        assertEquals(0, Cli.run("preprocess", good, "--transform", "vtab", "--size", "32", "--out", tmp.resolve("ok.npy").toString()).rc());
        for (Case c : CASES) {
            Path out = tmp.resolve(c.name() + ".npy");
            Cli.Run r = Cli.fails(2, new String[]{"preprocess", c.file().toString(), "--transform", "vtab", "--size", "32", "--out", out.toString()},
                    c.file().getFileName().toString(), c.fragment());
            assertFalse(Files.exists(out), "an output was written for " + c.name());
            Cli.record("preprocess", "image " + c.name(), r);
            // predict: the good image first is answered, then the bad one stops the command
            r = Cli.fails(2, new String[]{"predict", "--task", task.toString(), good, c.file().toString()},
                    c.file().getFileName().toString(), c.fragment());
            assertTrue(r.out().contains(good), r.out());
            Cli.record("predict", "image " + c.name(), r);
        }
    }
}
