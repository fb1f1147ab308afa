package dev.cvpt.data.seg;

import dev.cvpt.TestData;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Image decoding for segmentation (ImageDecoder + BGR order) against {@code cv2.imread(IMREAD_COLOR)}
 * on the decoder test files: equal except where documented (BgrImage's class comment).
 */
class BgrDecodeTest {
    /**
     * Where we knowingly differ from cv2: EXIF orientation (cv2 rotates, we do not), 16-bit grey PNG (Pillow
     * clips to 255, cv2 keeps the high byte), CMYK JPEG (Pillow's cmyk2rgb, cv2 its own conversion).
     */
    static final Set<String> KNOWN = Set.of("cmyk_151x99.jpg", "cmyk_raw_64x48.jpg", "exif_rot6_120x80.jpg", "gray16_90x70.png");

    @Test
    void sameBytesAsCv2Imread() throws Exception {
        Path list = TestData.resource("seg/cv2_imread_sha256.txt");
        Path dir = TestData.resource("data/extra/up_13x9.png").getParent();
        Set<String> differ = new TreeSet<>();
        int n = 0;
        for (String line : Files.readAllLines(list)) {
            if (line.startsWith("#") || line.isBlank()) continue;
            String[] f = line.split(" ");
            byte[] bgr = BgrImage.decode(dir.resolve(f[0])).bgr();
            String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bgr));
            if (!sha.equals(f[1])) differ.add(f[0]);
            n++;
        }
        assertEquals(KNOWN, differ, "files decoded differently from cv2 (of " + n + ")");
    }
}
