package dev.cvpt.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

class LoaderTest {
    @TempDir Path tmp;

    Dataset dataset(int n) throws IOException {
        Path dir = tmp.resolve("dsprites_loc");
        StringBuilder list = new StringBuilder();
        for (int i = 0; i < n; i++) {
            DatasetsTest.png(dir.resolve("im/" + i + ".png"), 30 + i % 7, 25 + i % 5, i);
            list.append("im/").append(i).append(".png ").append(i % 16).append('\n');
        }
        Files.writeString(dir.resolve("train800.txt"), list);
        return VtabDataset.open(dir, "train800", DatasetOptions.defaults());
    }

    static List<Batch> all(Loader l, int epoch) {
        List<Batch> out = new ArrayList<>();
        try (Loader.Epoch e = l.epoch(epoch)) {
            for (Batch b : e) out.add(b);
        }
        return out;
    }

    @Test
    void fixedTransformIsCachedAndMatchesDirectComputation() throws IOException {
        Dataset d = dataset(11);
        Loader.Options o = new Loader.Options(4, true, false, 7, 2, 3, false, 1L << 30);
        try (Loader cached = Loader.create(d, Transforms.vtab(16), o);
             Loader live = Loader.create(d, Transforms.vtab(16), o.withCacheBytes(0))) {
            assertTrue(cached.cached());
            assertFalse(live.cached());
            assertEquals(3, cached.batchesPerEpoch());
            List<Batch> a = all(cached, 3), b = all(live, 3);
            assertEquals(List.of(4, 4, 3), a.stream().map(Batch::size).toList());
            Set<Integer> seen = new HashSet<>();
            for (int k = 0; k < a.size(); k++) {
                assertArrayEquals(a.get(k).images(), b.get(k).images());
                assertArrayEquals(a.get(k).labels(), b.get(k).labels());
                for (int j = 0; j < a.get(k).size(); j++) {
                    int i = a.get(k).indices()[j];
                    seen.add(i);
                    assertEquals(i % 16, a.get(k).labels()[j]);
                    float[] want = Transforms.toNormalizedFloats(Transforms.vtab(16).apply(ImageDecoder.decodeRgb(d.samples().get(i).path()), null));
                    assertArrayEquals(want, Arrays.copyOfRange(a.get(k).images(), j * 768, (j + 1) * 768));
                }
            }
            assertEquals(11, seen.size());
            // shuffled, and differently per epoch
            int[] o3 = cached.order(3), o4 = cached.order(4);
            assertFalse(Arrays.equals(o3, o4));
            assertFalse(Arrays.equals(o3, identity(11)));
        }
    }

    static int[] identity(int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) a[i] = i;
        return a;
    }

    @Test
    void randomTransformIsDeterministicWhateverTheThreads() throws IOException {
        Dataset d = dataset(9);
        Loader.Options o1 = new Loader.Options(4, true, true, 42, 1, 1, false, 1L << 30);
        Loader.Options o2 = new Loader.Options(4, true, true, 42, 2, 5, false, 1L << 30);
        try (Loader a = Loader.create(d, Transforms.fgvcTrain(24), o1); Loader b = Loader.create(d, Transforms.fgvcTrain(24), o2)) {
            assertFalse(a.cached());
            List<Batch> x = all(a, 0), y = all(b, 0), z = all(b, 1);
            assertEquals(2, x.size()); // drop_last: 9 → 2 batches of 4
            for (int k = 0; k < 2; k++) {
                assertArrayEquals(x.get(k).images(), y.get(k).images());
                assertArrayEquals(x.get(k).indices(), y.get(k).indices());
            }
            assertFalse(Arrays.equals(x.get(0).images(), z.get(0).images()));
            assertArrayEquals(new long[]{4, 3, 24, 24}, x.get(0).imageShape());
        }
    }

    @Test
    void randomCropAndFlipCoverTheRange() {
        RgbImage im = new RgbImage(300, 200, new byte[300 * 200 * 3]);
        for (int i = 0; i < im.rgb().length; i += 3) im.rgb()[i] = (byte) (i / 3 % 300 * 255 / 299);
        Transforms.Transform t = Transforms.fgvcTrain(224);
        Random r = new Random(1);
        Set<Integer> firstPixels = new HashSet<>();
        int flips = 0;
        for (int k = 0; k < 400; k++) {
            byte[] chw = t.apply(im, r);
            int a = chw[0] & 0xff, b = chw[223] & 0xff;
            if (a > b) flips++;
            firstPixels.add(Math.min(a, b));
        }
        assertTrue(flips > 150 && flips < 250, "flips " + flips);
        assertTrue(firstPixels.size() > 40, "crops " + firstPixels.size()); // resized to 384x256: 161 x-offsets
    }

    @Test
    void unreadableImagesStopBeforeTrainingOrAreSkipped() throws IOException {
        Dataset d = dataset(5);
        Files.write(d.samples().get(1).path(), new byte[]{1, 2, 3, 4});
        Files.write(d.samples().get(3).path(), Arrays.copyOf(Files.readAllBytes(d.samples().get(0).path()), 40));
        Loader.Options o = new Loader.Options(2, false, false, 0, 2, 2, false, 1L << 30);
        DataException e = assertThrows(DataException.class, () -> Loader.create(d, Transforms.vtab(8), o));
        assertEquals(2, e.problems().size(), e.getMessage());
        assertTrue(e.problems().get(0).startsWith(d.samples().get(1).source() + ": "), e.problems().get(0));
        assertTrue(e.problems().get(1).startsWith(d.samples().get(3).source() + ": "), e.problems().get(1));
        try (Loader l = Loader.create(d, Transforms.fgvcTrain(8), o.withSkipBad(true))) {
            assertEquals(3, l.dataset().size());
            assertEquals(2, l.dataset().skipped());
            assertEquals(2, l.batchesPerEpoch());
            assertEquals(3, all(l, 0).stream().mapToInt(Batch::size).sum());
        }
    }

    @Test
    void normalizationIsTorchFloat32() {
        // torch: float32(x) / 255, then (x - mean) / std, each in float32
        assertEquals((0f / 255f - 0.485f) / 0.229f, Transforms.normalize(0, 0));
        assertEquals((255f / 255f - 0.406f) / 0.225f, Transforms.normalize(255, 2));
        assertEquals(-2.117904f, Transforms.normalize(0, 0), 1e-6f);
        assertEquals(2.64f, Transforms.normalize(255, 2), 1e-5f);
        assertEquals(256, Transforms.fgvcResize(224));
        assertEquals(512, Transforms.fgvcResize(448));
        assertEquals(438, Transforms.fgvcResize(384));
        assertArrayEquals(new int[]{256, 341}, Transforms.shorterSide(300, 400, 256));
        assertArrayEquals(new int[]{452, 256}, Transforms.shorterSide(513, 290, 256));
    }
}
