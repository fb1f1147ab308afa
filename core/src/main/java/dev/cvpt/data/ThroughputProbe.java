package dev.cvpt.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * Measures images/s of decode + VTAB transform (to uint8, as the cache holds them) on N threads.
 *
 * <pre>java -cp target/classes dev.cvpt.data.ThroughputProbe [DIR_OR_IMAGES...] [--threads 2] [--seconds 10] [--size 224] [--transform vtab]</pre>
 * With no paths it uses the JPEG and PNG files of ../shared/images.
 */
public final class ThroughputProbe {
    public static void main(String[] args) throws Exception {
        int threads = 2, size = 224;
        double seconds = 10;
        String transform = "vtab";
        List<Path> files = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--seconds" -> seconds = Double.parseDouble(args[++i]);
                case "--size" -> size = Integer.parseInt(args[++i]);
                case "--transform" -> transform = args[++i];
                default -> files.addAll(images(Path.of(args[i])));
            }
        }
        if (files.isEmpty()) files.addAll(images(Path.of(System.getProperty("cvpt.shared", "../shared"), "images")));
        if (files.isEmpty()) throw new IllegalArgumentException("no images given");
        Transforms.Transform t = Transforms.byName(transform, size);
        List<byte[]> bytes = new ArrayList<>();
        long pixels = 0;
        for (Path f : files) {
            bytes.add(Files.readAllBytes(f)); // from memory: measures decoding, not the disk
            RgbImage im = ImageDecoder.decodeRgb(f);
            pixels += (long) im.width() * im.height();
        }
        System.out.printf("%d images (mean %.0f px), %s %d, %d threads%n", files.size(), (double) pixels / files.size(), transform, size, threads);
        run(bytes, files, t, threads, Math.min(2, seconds)); // warm-up (JIT)
        double rate = run(bytes, files, t, threads, seconds);
        System.out.printf("decode + %s: %.1f images/s%n", transform, rate);
    }

    static double run(List<byte[]> bytes, List<Path> names, Transforms.Transform t, int threads, double seconds) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        AtomicInteger next = new AtomicInteger(), done = new AtomicInteger();
        long end = System.nanoTime() + (long) (seconds * 1e9), start = System.nanoTime();
        List<Future<?>> fs = new ArrayList<>();
        for (int k = 0; k < threads; k++) {
            fs.add(pool.submit(() -> {
                java.util.Random r = new java.util.Random(1);
                while (System.nanoTime() < end) {
                    int i = next.getAndIncrement() % bytes.size();
                    t.apply(ImageDecoder.decodeRgb(bytes.get(i), names.get(i)), r);
                    done.incrementAndGet();
                }
            }));
        }
        for (Future<?> f : fs) f.get();
        pool.shutdown();
        return done.get() / ((System.nanoTime() - start) / 1e9);
    }

    static List<Path> images(Path p) throws IOException {
        if (!Files.isDirectory(p)) return List.of(p);
        try (Stream<Path> s = Files.walk(p)) {
            return s.filter(Files::isRegularFile).filter(ImageFolderDataset::isImage).sorted().toList();
        }
    }
}
