package dev.cvpt.data;

import dev.cvpt.io.HostTensor;
import dev.cvpt.io.Npy;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/** Every image in shared/images through both transforms equals torchvision's tensor. */
class GoldenImagesTest {

    static List<Path> images() throws IOException {
        try (Stream<Path> s = Files.list(TestData.images())) {
            return s.filter(p -> p.toString().endsWith(".jpg") || p.toString().endsWith(".png")).sorted().toList();
        }
    }

    @TestFactory
    List<DynamicTest> goldens() throws IOException {
        List<Path> imgs = images();
        assertTrue(imgs.size() >= 11, "expected the 11 golden images, found " + imgs.size());
        List<DynamicTest> tests = new ArrayList<>();
        for (Path img : imgs) {
            String base = img.getFileName().toString().replaceFirst("\\.[a-z]+$", "");
            for (String t : List.of("vtab", "fgvc_test")) {
                tests.add(DynamicTest.dynamicTest(base + " " + t, () -> {
                    HostTensor want = Npy.read(img.resolveSibling(base + "." + t + ".npy"));
                    assertArrayEquals(new long[]{3, 224, 224}, want.shape());
                    RgbImage im = ImageDecoder.decodeRgb(img);
                    float[] got = Transforms.toNormalizedFloats(Transforms.byName(t, 224).apply(im, null));
                    float[] w = want.toFloats();
                    double max = 0;
                    int bad = 0, first = -1;
                    for (int i = 0; i < w.length; i++) {
                        double d = Math.abs(got[i] - w[i]);
                        if (d > 2e-6 && bad++ == 0) first = i;
                        max = Math.max(max, d);
                    }
                    System.out.printf("golden %-14s %-9s max|diff| %.3g%n", base, t, max);
                    assertEquals(0, bad, base + " " + t + ": " + bad + " values differ, first at " + first
                            + " (got " + (first >= 0 ? got[first] : 0) + " want " + (first >= 0 ? w[first] : 0) + "), max " + max);
                }));
            }
        }
        return tests;
    }
}
