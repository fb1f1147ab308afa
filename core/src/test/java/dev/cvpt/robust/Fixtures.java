package dev.cvpt.robust;

import dev.cvpt.TestData;
import dev.cvpt.io.Checkpoint;
import dev.cvpt.io.HostTensor;
import dev.cvpt.io.Safetensors;
import dev.cvpt.model.Backbones;
import dev.cvpt.model.VitConfig;
import dev.cvpt.synth.SyntheticTasks;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * What the robustness tests share, made once per JVM in a temporary folder: a small synthetic
 * dataset (VTAB layout, 4 classes, 32 px), a task file trained on it with the micro backbone, a
 * second tiny backbone of another width, and builders for hand-made broken files.
 */
final class Fixtures {
    private Fixtures() {}

    private static Path root, data, task;

    static synchronized Path root() {
        if (root == null) {
            try {
                root = Files.createTempDirectory("cvpt-robust");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            Path r = root;
            Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(r)));
        }
        return root;
    }

    static Path micro(String ext) { return TestData.golden("micro." + ext); }

    /** VTAB layout, task "disk": 64 train (train800val200 = train800), no val, 32 test images. */
    static synchronized Path data() {
        if (data == null) {
            try {
                data = SyntheticTasks.write(root().resolve("synth"), "disk", 32, 1, 64, 0, 32, 2);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return data;
    }

    /** A copy of the dataset folder to break (the copy's name is {@code name}). */
    static Path copyOfData(Path dir, String name) throws IOException {
        Path src = data(), dst = dir.resolve(name);
        try (Stream<Path> s = Files.walk(src)) {
            for (Path p : s.toList()) {
                Path t = dst.resolve(src.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(t);
                else Files.copy(p, t);
            }
        }
        return dst;
    }

    /** An image of the dataset. */
    static Path image() { return data().resolve("images/test/000000.png"); }

    /** A task file trained on micro.npz (1 epoch of CVPT). */
    static synchronized Path task() {
        if (task == null) {
            Path run = root().resolve("task-run");
            Cli.Run r = Cli.run("train", "--data", data().toString(), "--checkpoint", micro("npz").toString(), "--out", run.toString(),
                    "--method", "cvpt", "--prompts", "5", "--epochs", "1", "--batch", "32", "--threads", "1", "--no-progress");
            assertEquals(0, r.rc(), r.toString());
            task = run.resolve("disk.safetensors");
        }
        return task;
    }

    /** A tiny ViT like micro (dims read from it) but {@code dim} wide, random weights; heads in the metadata. */
    static Path otherWidthBackbone(Path file, int dim) throws IOException {
        Checkpoint m = Checkpoint.load(micro("npz"));
        VitConfig c = Backbones.configOf(m.file(), m.tensors(), m.heads());
        VitConfig w = new VitConfig(dim, c.depth(), c.heads(), c.patch(), c.img(), 4 * dim);
        Random r = new Random(7);
        Map<String, HostTensor> t = new LinkedHashMap<>();
        Backbones.expectedShapes(w).forEach((name, shape) -> {
            float[] v = new float[(int) HostTensor.numel(shape)];
            boolean norm = name.contains("norm") && name.endsWith(".weight");
            for (int i = 0; i < v.length; i++) v[i] = norm ? 1f : (float) (0.02 * r.nextGaussian());
            t.put(name, HostTensor.ofFloats(v, shape));
        });
        Safetensors.write(file, t, Map.of("heads", Integer.toString(c.heads())));
        return file;
    }

    // ------------------------------------------------------------------ safetensors surgery

    /** The JSON header and the data region of a safetensors file. */
    record St(String header, byte[] data) {
        static St of(Path file) throws IOException {
            byte[] b = Files.readAllBytes(file);
            long n = ByteBuffer.wrap(b, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            return new St(new String(b, 8, (int) n, StandardCharsets.UTF_8).strip(),
                    java.util.Arrays.copyOfRange(b, 8 + (int) n, b.length));
        }

        St header(String h) { return new St(h, data); }

        Path write(Path file) throws IOException {
            byte[] h = header.getBytes(StandardCharsets.UTF_8);
            int padded = (h.length + 7) / 8 * 8;
            ByteBuffer b = ByteBuffer.allocate(8 + padded + data.length).order(ByteOrder.LITTLE_ENDIAN);
            b.putLong(padded).put(h);
            for (int i = h.length; i < padded; i++) b.put((byte) ' ');
            Files.write(file, b.put(data).array());
            return file;
        }
    }

    // ------------------------------------------------------------------ hostile pickles

    /** A torch.save-style zip whose data.pkl is {@code pickle}. */
    static Path torchZip(Path file, byte[] pickle) throws IOException {
        Map<String, byte[]> entries = new LinkedHashMap<>();
        entries.put("archive/data.pkl", pickle);
        entries.put("archive/version", "3\n".getBytes(StandardCharsets.US_ASCII));
        dev.cvpt.io.IoTestSupport.writeZip(file, entries);
        return file;
    }

    /** Protocol-2 pickle of {@code module.name(arg)} (GLOBAL, one-tuple, REDUCE), as pickle writes os.system('...'). */
    static byte[] callPickle(String module, String name, String arg) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.write(0x80);
        o.write(2);
        o.write('c');
        o.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.UTF_8));
        byte[] a = arg.getBytes(StandardCharsets.UTF_8);
        o.write('X');
        o.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(a.length).array());
        o.writeBytes(a);
        o.write(0x85);
        o.write('R');
        o.write('.');
        return o.toByteArray();
    }

    /** {@code cls()} then BUILD with a state dict: how a pickle instantiates an arbitrary class. */
    static byte[] classPickle(String module, String name) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.write(0x80);
        o.write(2);
        o.write('c');
        o.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.UTF_8));
        o.write(')');
        o.write(0x81); // NEWOBJ
        o.write('}');
        o.write('b');  // BUILD
        o.write('.');
        return o.toByteArray();
    }

    /** {@code n} nested empty lists: [[[[...]]]]. */
    static byte[] nestedPickle(int n) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.write(0x80);
        o.write(2);
        for (int i = 0; i < n; i++) o.write(']');
        for (int i = 1; i < n; i++) o.write('a');
        o.write('.');
        return o.toByteArray();
    }

    static void deleteTree(Path p) {
        if (p == null || !Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            s.sorted(Comparator.reverseOrder()).forEach(f -> {
                try {
                    f.toFile().setWritable(true);
                    Files.deleteIfExists(f);
                } catch (IOException ignored) {
                    // best effort
                }
            });
        } catch (IOException ignored) {
            // best effort
        }
    }

    static OptionalInt none() { return OptionalInt.empty(); }
}
