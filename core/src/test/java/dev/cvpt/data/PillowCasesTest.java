package dev.cvpt.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cvpt.io.HostTensor;
import dev.cvpt.io.Npy;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Extra kinds of image (made by generate.py with Pillow 9.4 + torchvision 0.14): decoded RGB and both
 * transforms at sizes 32 and 57 compared byte for byte, and at 224 by SHA-256.
 */
class PillowCasesTest {

    static Path dir() {
        try {
            return Path.of(PillowCasesTest.class.getResource("/data/extra/manifest.json").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static byte[] npyGz(Path p) {
        try (InputStream in = new GZIPInputStream(Files.newInputStream(p))) {
            HostTensor t = Npy.parse(in.readAllBytes(), p, null);
            byte[] b = new byte[t.data().remaining()];
            t.data().duplicate().get(b);
            return b;
        } catch (java.io.IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Number of differing bytes and the largest difference, for the message. */
    static void assertSameBytes(byte[] want, byte[] got, String what) {
        assertEquals(want.length, got.length, what + ": length");
        int bad = 0, max = 0;
        for (int i = 0; i < want.length; i++) {
            int d = Math.abs((want[i] & 0xff) - (got[i] & 0xff));
            if (d != 0) bad++;
            max = Math.max(max, d);
        }
        assertEquals(0, bad, what + ": " + bad + " of " + want.length + " bytes differ, max " + max);
    }

    @TestFactory
    List<DynamicTest> cases() throws Exception {
        Path dir = dir();
        JsonNode manifest = new ObjectMapper().readTree(dir.resolve("manifest.json").toFile());
        JsonNode images = manifest.get("images"), hashes = manifest.get("sha256_224");
        assertTrue(images.size() >= 25, "manifest lists " + images.size() + " images");
        List<DynamicTest> tests = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = images.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey(), base = name.substring(0, name.lastIndexOf('.'));
            tests.add(DynamicTest.dynamicTest(name + " (" + e.getValue().get("mode").asText() + ")", () -> {
                RgbImage im = ImageDecoder.decodeRgb(dir.resolve(name));
                assertEquals(e.getValue().get("size").get(0).asInt(), im.width(), "width");
                assertEquals(e.getValue().get("size").get(1).asInt(), im.height(), "height");
                Path rgb = dir.resolve(base + ".rgb.npy.gz");
                if (Files.exists(rgb)) assertSameBytes(npyGz(rgb), im.rgb(), name + " decoded RGB");
                for (int size : new int[]{32, 57}) {
                    for (String t : List.of("vtab", "fgvc_test")) {
                        byte[] want = npyGz(dir.resolve(base + "." + t + "." + size + ".npy.gz"));
                        assertSameBytes(want, Transforms.byName(t, size).apply(im, null), name + " " + t + " " + size);
                    }
                }
                MessageDigest sha = MessageDigest.getInstance("SHA-256");
                for (String t : List.of("vtab", "fgvc_test")) {
                    String got = HexFormat.of().formatHex(sha.digest(Transforms.byName(t, 224).apply(im, null)));
                    assertEquals(hashes.get(name).get(t).asText(), got, name + " " + t + " 224 (SHA-256 of uint8 CHW)");
                }
            }));
        }
        return tests;
    }
}
