package dev.cvpt.data.seg;

import dev.cvpt.synth.SegSynth;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SegPipelineTest {
    @TempDir static Path tmp;
    static SegDataset train, val;

    @BeforeAll
    static void data() throws IOException {
        Path root = SegSynth.write(tmp.resolve("syn"), 8, 3, 3);
        train = SegDataset.open(root, "training", false);
        val = SegDataset.open(root, "validation", false);
    }

    @Test
    void trainSamplesArePaddedCropsWithValidLabels() {
        SegPipeline p = new SegPipeline(SegPipelineConfig.synthetic(32));
        int padded = 0;
        for (int i = 0; i < train.size(); i++) {
            SegSample s = p.train(train, i, new SplittableRandom(100 + i));
            assertEquals(32, s.height());
            assertEquals(32, s.width());
            assertNull(s.rawLabel());
            for (short v : s.label()) assertTrue(v == 255 || (v >= 0 && v < 4), "label " + v);
            // padding: label 255 and image exactly 0 on every channel
            for (int y = 0; y < 32; y++) {
                if (s.label()[y * 32 + 31] != 255) continue;
                boolean allZero = true;
                for (int c = 0; c < 3; c++) allZero &= s.image()[(c * 32 + y) * 32 + 31] == 0f;
                if (allZero) padded++;
            }
        }
        assertTrue(padded > 0, "with ratios below 1 some crops are smaller than 32 and get padded");
    }

    @Test
    void sameSeedSameSampleOtherSeedOther() {
        SegPipeline p = new SegPipeline(SegPipelineConfig.synthetic(32));
        SegSample a = p.train(train, 1, new SplittableRandom(5)), b = p.train(train, 1, new SplittableRandom(5));
        assertArrayEquals(a.image(), b.image());
        assertArrayEquals(a.label(), b.label());
        int differ = 0;
        for (long seed = 6; seed < 10; seed++) if (!java.util.Arrays.equals(a.image(), p.train(train, 1, new SplittableRandom(seed)).image())) differ++;
        assertEquals(4, differ);
    }

    @Test
    void testSamplesKeepRatioAndTheRawLabel() {
        SegPipeline p = new SegPipeline(SegPipelineConfig.synthetic(32));
        for (int i = 0; i < val.size(); i++) {
            SegSample s = p.test(val, i);
            BgrImage img = val.loadImage(i);
            Cv2Resize.Size want = Cv2Resize.rescaleSize(img.width(), img.height(), 128, 32);
            assertEquals(want.height(), s.height());
            assertEquals(want.width(), s.width());
            assertEquals(32, Math.min(s.height(), s.width()));
            assertEquals(img.height(), s.oriHeight());
            assertArrayEquals(val.loadRawLabel(i).values(), s.rawLabel());
            assertNull(s.label());
            // pixel (0, 0), channel R: Normalize of the cv2-resized image
            byte[] r = Cv2Resize.linear(img.bgr(), img.width(), img.height(), 3, s.width(), s.height());
            assertEquals(Normalize.IMAGENET.apply(r[2] & 0xff, 0), s.image()[0]);
        }
    }

    @Test
    void categoryRuleRedrawsAndFallsBackToTheLastDraw() {
        // 8 x 4 image, labels: columns 0-3 class 0, columns 4-7 class 1; no resize (scale 8 x 4, ratio 1), crop 4 x 4
        byte[] lab = new byte[32], bgr = new byte[96];
        for (int y = 0; y < 4; y++) for (int x = 0; x < 8; x++) lab[y * 8 + x] = (byte) (x < 4 ? 0 : 1);
        for (int i = 0; i < 96; i++) bgr[i] = (byte) i;
        SegPipelineConfig cfg = new SegPipelineConfig(8, 4, 1.0, 1.0, 4, 4, 0.75, 10, 0.5, false, Normalize.IMAGENET, 0f, 255);
        SegPipeline p = new SegPipeline(cfg);
        Cv2ResizeTest.Scripted r = new Cv2ResizeTest.Scripted();
        r.doubles.addAll(List.of(0.3, 0.9));                // ratio (any: range [1, 1]); flip no
        r.ints.addAll(List.of(0, 0, 0, 2));                 // box x=0 (one class: redraw), box x=2 (2 + 2 columns: kept)
        SegSample s = p.train(0, new BgrImage(8, 4, bgr), new LabelMap(8, 4, lab), r);
        assertTrue(r.ints.isEmpty() && r.doubles.isEmpty());
        assertFalse(s.flipped());
        assertArrayEquals(new short[]{0, 0, 1, 1}, java.util.Arrays.copyOfRange(s.label(), 0, 4));

        r.doubles.addAll(List.of(0.3, 0.1));                // flip yes
        for (int t = 0; t < 11; t++) r.ints.addAll(List.of(0, 0));   // 1 + 10 draws, all one class
        r.ints.addAll(List.of(0, 4));                                // never reached: the 11th box is used unchecked
        s = p.train(0, new BgrImage(8, 4, bgr), new LabelMap(8, 4, lab), r);
        assertEquals(List.of(0, 4), List.copyOf(r.ints));
        assertTrue(s.flipped());
        assertArrayEquals(new short[]{0, 0, 0, 0}, java.util.Arrays.copyOfRange(s.label(), 0, 4));
        // flipped crop of columns 0..3: the first pixel is source column 3, blue channel index 0 of row 0
        assertEquals(Normalize.IMAGENET.apply(3 * 3 + 2, 0), s.image()[0]);
    }
}
