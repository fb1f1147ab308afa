package dev.cvpt.data;

import dev.cvpt.cli.Main;
import dev.cvpt.io.Npy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class PreprocessCommandTest {
    @TempDir Path tmp;

    @Test
    void writesTheGoldenTensor() {
        Path img = TestData.images().resolve("rgb_down.jpg"), out = tmp.resolve("x.npy");
        assertEquals(Main.OK, Main.execute("preprocess", img.toString(), "--transform", "fgvc-test", "--out", out.toString()));
        assertArrayEquals(Npy.read(TestData.images().resolve("rgb_down.fgvc_test.npy")).toFloats(), Npy.read(out).toFloats());
        assertEquals(Main.OK, Main.execute("preprocess", img.toString(), "--transform", "vtab", "--size", "32", "--out", out.toString()));
        assertArrayEquals(new long[]{3, 32, 32}, Npy.read(out).shape());
    }

    @Test
    void badInputNamesTheFile() throws Exception {
        Path bad = tmp.resolve("broken.jpg");
        Files.write(bad, new byte[]{(byte) 0xFF, (byte) 0xD8, (byte) 0xFF, 0, 1, 2});
        PrintStream old = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc;
        try {
            System.setErr(new PrintStream(err, true));
            rc = Main.execute("preprocess", bad.toString(), "--transform", "vtab", "--out", tmp.resolve("y.npy").toString());
        } finally {
            System.setErr(old);
        }
        assertEquals(Main.BAD_INPUT, rc);
        assertTrue(err.toString().contains(bad.toString()), err.toString());
        assertFalse(Files.exists(tmp.resolve("y.npy")));
        assertEquals(Main.BAD_INPUT, Main.execute("preprocess", tmp.resolve("none.png").toString(), "--transform", "vtab", "--out", tmp.resolve("z.npy").toString()));
    }
}
