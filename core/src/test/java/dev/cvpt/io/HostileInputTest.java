package dev.cvpt.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;

import static dev.cvpt.io.IoTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

/** Truncated and bit-flipped files of every format: each load either succeeds or gives a CheckpointException. */
class HostileInputTest {
    @TempDir Path tmp;

    private record Sample(String name, Path file, Consumer<Path> load) {}

    private static List<Sample> samples() {
        return List.of(
                new Sample("micro.npz", golden("micro.npz"), Checkpoint::load),
                new Sample("micro.safetensors", golden("micro.safetensors"), Checkpoint::load),
                new Sample("micro.pth", golden("micro.pth"), Checkpoint::load),
                new Sample("compressed.npz", resource("compressed.npz"), Npz::read),
                new Sample("nested.pth", resource("nested.pth"), Pth::read),
                new Sample("nested_p4.pth", resource("nested_p4.pth"), Pth::read));
    }

    @Test
    @Timeout(120)
    void truncatedFilesAreRefused() throws IOException {
        for (Sample s : samples()) {
            byte[] b = Files.readAllBytes(s.file);
            s.load.accept(s.file); // the whole file loads
            int n = b.length;
            for (int len : new int[] {0, 1, 4, 7, 8, 9, 16, 30, 64, 100, 1000, n / 3, n / 2, n - 1000, n - 100, n - 46, n - 22, n - 21, n - 1}) {
                if (len < 0 || len >= n) continue;
                Path p = Files.write(tmp.resolve("cut" + len + "-" + s.name), Arrays.copyOf(b, len));
                assertRefused(p, () -> s.load.accept(p));
            }
        }
    }

    @Test
    @Timeout(300)
    void bitFlipsGiveALoadOrACheckpointException() throws IOException {
        StringBuilder report = new StringBuilder();
        for (Sample s : samples()) {
            byte[] b = Files.readAllBytes(s.file);
            Random r = new Random(s.name.hashCode());
            int ok = 0, refused = 0;
            for (int i = 0; i < 200; i++) {
                // half anywhere, half in the first and last 8 KB where headers, pickles and zip directories are
                int pos = i % 2 == 0 ? r.nextInt(b.length)
                        : r.nextBoolean() ? r.nextInt(Math.min(8192, b.length)) : b.length - 1 - r.nextInt(Math.min(8192, b.length));
                byte[] c = b.clone();
                c[pos] ^= (byte) (1 << r.nextInt(8));
                Path p = Files.write(tmp.resolve("flip-" + s.name), c);
                try {
                    s.load.accept(p);
                    ok++;
                } catch (CheckpointException e) {
                    refused++;
                    assertTrue(e.getMessage().contains(p.getFileName().toString()), e.getMessage());
                    assertFalse(e.getMessage().contains("\n"), e.getMessage());
                } catch (Throwable t) {
                    throw new AssertionError(s.name + ": flip at byte " + pos + " gave " + t, t);
                }
            }
            report.append(s.name).append(": ").append(ok).append(" loaded, ").append(refused).append(" refused; ");
            assertTrue(refused > 0, s.name + ": no flip was noticed");
        }
        System.out.println("bit flips: " + report);
    }
}
