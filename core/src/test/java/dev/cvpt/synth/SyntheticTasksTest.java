package dev.cvpt.synth;

import dev.cvpt.UserException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferInt;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

class SyntheticTasksTest {

    static final List<String> TASKS = List.of("count", "position", "position9", "orientation", "colour", "disk", "quadrant", "number", "angle", "shapes", "pretrain");

    @Test
    void specs() {
        assertEquals(TASKS, SyntheticTasks.names());
        Map<String, Integer> classes = new LinkedHashMap<>();
        for (String t : TASKS) classes.put(t, SyntheticTasks.spec(t).classes());
        assertEquals(Map.ofEntries(Map.entry("count", 4), Map.entry("position", 4), Map.entry("position9", 9), Map.entry("orientation", 4),
                Map.entry("colour", 4), Map.entry("disk", 4), Map.entry("quadrant", 4), Map.entry("number", 4), Map.entry("angle", 4),
                Map.entry("shapes", 24), Map.entry("pretrain", 32)), classes);
        assertThrows(UserException.class, () -> SyntheticTasks.spec("color"));
        assertThrows(UserException.class, () -> SyntheticTasks.render("colour", 48, 0, "training", 0));
        assertThrows(UserException.class, () -> SyntheticTasks.render("colour", 8, 0, "train", 0));
    }

    @Test
    void renderIsAPureFunctionOfItsArguments() {
        for (String t : TASKS) {
            Sample a = SyntheticTasks.render(t, 48, 3, "train", 5), b = SyntheticTasks.render(t, 48, 3, "train", 5);
            assertEquals(BufferedImage.TYPE_INT_RGB, a.image().getType());
            assertEquals(48, a.image().getWidth());
            assertEquals(48, a.image().getHeight());
            assertEquals(a.label(), b.label());
            assertArrayEquals(pixels(a.image()), pixels(b.image()), t);
            // every input changes the image
            assertFalse(java.util.Arrays.equals(pixels(a.image()), pixels(SyntheticTasks.render(t, 48, 4, "train", 5).image())), t + " seed");
            assertFalse(java.util.Arrays.equals(pixels(a.image()), pixels(SyntheticTasks.render(t, 48, 3, "test", 5).image())), t + " split");
            assertFalse(java.util.Arrays.equals(pixels(a.image()),
                    pixels(SyntheticTasks.render(t, 48, 3, "train", 5 + SyntheticTasks.spec(t).classes()).image())), t + " index");
        }
    }

    /**
     * Pins the pixels: any change to the drawing code or the random streams shows up here (then bump
     * SyntheticTasks.GENERATOR_VERSION, so that cached folders are regenerated, and re-pin).
     */
    @Test
    void pinnedPixelHashes() throws Exception {
        Map<String, String> pinned = Map.ofEntries(
                Map.entry("count", "a063ce2eab415df29038d0ade391db704519f78b8dd37d738939c43be430bec3"),
                Map.entry("position", "46391d67c50cb03c6a45b74062a1cd1d7fb629fe70c79b54cf3b0c3249016b59"),
                Map.entry("position9", "f9d68391cf556808a0d309ae82314e14b11920b8e86af1de95d06a0b1d7c37bf"),
                Map.entry("orientation", "fc11525e9410f3bb9030a9da5a1c8af477768e74a6dac2f3907083cbf436a6bd"),
                Map.entry("colour", "e204c8cbb91ce0bc7d729be9b23ab26c3a609c030df1e7cad53ef2db9cce5f2e"),
                Map.entry("disk", "7ffda39a72821a1ec58f5a1dcbe12a32cea7514abc43977919cd082a9c767a71"),
                Map.entry("shapes", "042c60347f1b37f9449956e4c9947365e2a65dcbce35d9d1397feb6739d8d870"),
                Map.entry("pretrain", "e4386ad74c72b527a6313ed956642b2a64ed8abf27470ff3070093ff4adf3d57"),
                Map.entry("quadrant", "c7e724a0813e592f25869160f4d39ac63eb2a897d55e03e92c31f7995122cbb4"),
                Map.entry("number", "c150c1621d3a12b0047b62fc32272804bab50fc6b05fe368c217c961a9523867"),
                Map.entry("angle", "173791d19ca77dacbf46d25eacd9acd4abcd005ee4f7f642759908df8a339917"));
        Map<String, String> actual = new LinkedHashMap<>();
        for (String t : TASKS) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (String split : List.of("train", "test"))
                for (int i = 0; i < 4; i++) {
                    Sample s = SyntheticTasks.render(t, 32, 7, split, i);
                    ByteBuffer buf = ByteBuffer.allocate(4 + 4 * 32 * 32).putInt(s.label());
                    for (int p : pixels(s.image())) buf.putInt(p & 0xffffff);
                    md.update(buf.array());
                }
            actual.put(t, HexFormat.of().formatHex(md.digest()));
        }
        for (String t : TASKS) assertEquals(pinned.get(t), actual.get(t), t + " (all: " + actual + ")");
    }

    @Test
    void labelsAreBalanced() {
        for (String t : TASKS) {
            int k = SyntheticTasks.spec(t).classes();
            int[] n = new int[k];
            for (int i = 0; i < 20 * k; i++) n[SyntheticTasks.label(t, i)]++;
            for (int c = 0; c < k; c++) assertEquals(20, n[c], t + " class " + c);
            for (int i = 0; i < 3 * k; i++) assertEquals(SyntheticTasks.label(t, i), SyntheticTasks.render(t, 32, 1, "val", i).label());
        }
    }

    static Stream<Arguments> tasksAndSizes() {
        return TASKS.stream().flatMap(t -> Stream.of(Arguments.of(t, 48), Arguments.of(t, 32)));
    }

    /**
     * The label is visible: a simple pixel oracle recovers it on >= 95% of 200 images. The control
     * (agreement with a shifted label) shows that the oracle is not agreeing by accident.
     */
    @ParameterizedTest(name = "{0} at {1} px")
    @MethodSource("tasksAndSizes")
    void oracleRecoversTheLabel(String task, int size) {
        int classes = SyntheticTasks.spec(task).classes(), n = 200, right = 0, shifted = 0;
        StringBuilder misses = new StringBuilder();
        for (int i = 0; i < n; i++) {
            Sample s = SyntheticTasks.render(task, size, 11, "test", i);
            int p = Oracles.predict(task, s.image()), label = s.label();
            if (task.equals("shapes")) {  // its simple oracle reads the hue band reliably, the kind only ~90% at 32 px
                p %= 8;
                label %= 8;
                classes = 8;
            }
            if (p == label) right++;
            else if (misses.length() < 200) misses.append(" #").append(i).append(':').append(s.label()).append("->").append(p);
            if (p == (label + 1) % classes) shifted++;
        }
        assertTrue(right >= 0.95 * n, task + ": oracle agrees on " + right + "/" + n + ";" + misses);
        assertTrue(shifted <= 0.05 * n, task + ": oracle agrees with shifted labels on " + shifted + "/" + n);
    }

    @Test
    void glyphsAreDistinct() {
        for (int a = 0; a < Glyphs.COUNT; a++)
            for (int b = a + 1; b < Glyphs.COUNT; b++)
                assertTrue(Glyphs.distance(Glyphs.bitmap(a), Glyphs.bitmap(b)) >= Glyphs.MIN_DISTANCE, a + " vs " + b);
    }

    static int[] pixels(BufferedImage img) { return ((DataBufferInt) img.getRaster().getDataBuffer()).getData(); }
}
