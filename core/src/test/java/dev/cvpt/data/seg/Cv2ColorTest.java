package dev.cvpt.data.seg;

import org.junit.jupiter.api.Test;

import java.security.MessageDigest;
import java.util.HexFormat;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** BGR ↔ HSV against Debian cv2 4.6.0 on every 8-bit input (SHA-256 of the full 2^24-pixel tables). */
class Cv2ColorTest {
    /** All 2^24 pixels, pixel a = (a >> 16, a >> 8 & 255, a & 255) as the three channels. */
    static byte[] all() {
        byte[] img = new byte[3 << 24];
        for (int a = 0; a < 1 << 24; a++) {
            img[3 * a] = (byte) (a >> 16);
            img[3 * a + 1] = (byte) (a >> 8);
            img[3 * a + 2] = (byte) a;
        }
        return img;
    }

    static String sha(byte[] b) throws Exception { return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b)); }

    @Test
    void bgr2hsvMatchesCv2OnAllInputs() throws Exception {
        byte[] img = all();
        Cv2Color.bgr2hsv(img, img);
        // /usr/bin/python3: cv2.cvtColor(img.reshape(4096, 4096, 3), cv2.COLOR_BGR2HSV), cv2 4.6.0 (Debian)
        assertEquals("cc4c8f3a2064ffaed3776170c4dfa02c90011b02dbc7ece07b7fced54069ad55", sha(img));
    }

    @Test
    void hsv2bgrMatchesCv2OnAllInputs() throws Exception {
        byte[] img = all();
        Cv2Color.hsv2bgr(img, img, 4096);               // rows of 4096: OpenCV's SIMD path only
        assertEquals("5f2643cdbdd25a04cf28db7ca8d0c83ef4b76f4a625319409ce1afd55856d2db", sha(img));
        img = all();
        Cv2Color.hsv2bgr(img, img, 1);                  // rows of 1 pixel: the scalar path only
        assertEquals("b2d46a08e3309cc87e4743489860aa01b22e36955ceba0cefd5a7fa51c61e9a7", sha(img));
        img = java.util.Arrays.copyOf(all(), 3 * 16_777_000);
        Cv2Color.hsv2bgr(img, img, 1000);               // rows of 1000: 992 SIMD + 8 scalar pixels
        assertEquals("91e5c10e7c75bfed2a7cc8ca6ebb56160ad80f3654598fcc4a30a3faba5232ab", sha(img));
    }

    @Test
    void knownColours() {
        byte[] px = {0, 0, (byte) 255, (byte) 255, 0, 0};   // BGR red, blue
        Cv2Color.bgr2hsv(px, px);
        assertEquals(0, px[0]);
        assertEquals(255, px[1] & 0xff);
        assertEquals(120, px[3] & 0xff);
    }
}
