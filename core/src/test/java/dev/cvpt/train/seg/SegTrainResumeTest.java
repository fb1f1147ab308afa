package dev.cvpt.train.seg;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cvpt.TestData;
import dev.cvpt.cli.Main;
import dev.cvpt.io.HostTensor;
import dev.cvpt.io.Safetensors;
import dev.cvpt.synth.SegSynth;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Segmentation training end to end on a tiny synthetic task: the outputs and the task file (official names),
 * seg eval on the saved file reproduces the training's final mIoU exactly, and a run killed with SIGKILL in
 * another JVM and resumed ends with the same losses, mIoU and tensors as an unbroken one.
 */
class SegTrainResumeTest {
    @TempDir static Path tmp;
    static Path data;

    @BeforeAll
    static void makeData() throws IOException {
        data = SegSynth.write(tmp.resolve("shapes"), 16, 4, 3, 24, 40);
    }

    static List<String> args(Path out) {
        return new ArrayList<>(List.of("seg", "train", "--data", data.toString(), "--checkpoint", TestData.golden("micro.npz").toString(),
                "--out", out.toString(), "--method", "cvpt", "--prompts", "2", "--channels", "8", "--iters", "20", "--batch", "4",
                "--eval-every", "10", "--save-every", "1", "--crop", "32", "--stride", "21", "--scale", "128x32", "--lr", "1e-2",
                "--threads", "1"));
    }

    @Test
    void trainsEvaluatesAndResumesAfterKill() throws Exception {
        Path u = tmp.resolve("unbroken");
        assertEquals(Main.OK, Main.execute(args(u).toArray(String[]::new)));
        JsonNode m = json(u.resolve("metrics.json"));
        for (String f : List.of("shapes.safetensors", "shapes.json", "metrics.csv", "seg_metrics.md", "seg_metrics.csv", "seg_metrics.json", "train.log", "run.json"))
            assertTrue(Files.size(u.resolve(f)) > 0, f);
        Map<String, HostTensor> t = Safetensors.read(u.resolve("shapes.safetensors")).tensors();
        for (String n : List.of("backbone.Prompt_Tokens", "decode_head.conv_seg.weight", "decode_head.norm.bias",
                "decode_head.up_convs.2.0.conv.weight", "decode_head.up_convs.0.0.bn.running_var", "decode_head.up_convs.0.0.bn.num_batches_tracked",
                "auxiliary_head.2.up_convs.1.0.bn.weight"))
            assertTrue(t.containsKey(n), n + " in " + t.keySet());
        assertEquals(20, t.get("decode_head.up_convs.0.0.bn.num_batches_tracked").toLongs()[0]);
        assertTrue(t.keySet().stream().noneMatch(n -> n.startsWith("backbone.layers.")), "shared CA weights are not stored");
        double miou = m.get("mIoU").asDouble();
        assertTrue(miou > 0 && miou <= 1, "mIoU " + miou);

        // seg eval on the saved task file gives exactly the training's final figure
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream old = System.out;
        System.setOut(new PrintStream(out, true));
        try {
            assertEquals(Main.OK, Main.execute("seg", "eval", "--data", data.toString(), "--task", u.resolve("shapes.safetensors").toString(), "--threads", "1"));
        } finally {
            System.setOut(old);
        }
        assertEquals(miou, new ObjectMapper().readTree(out.toString()).get("mIoU").asDouble(), 0.0);

        // predict: a palette PNG mask (and an overlay) at the image's own size
        Path img = data.resolve("images/validation").toFile().listFiles()[0].toPath();
        Path masks = tmp.resolve("masks");
        assertEquals(Main.OK, Main.execute("seg", "predict", "--task", u.resolve("shapes.safetensors").toString(), "--out", masks.toString(),
                "--overlay", "--threads", "1", img.toString()));
        String stem = img.getFileName().toString().replaceFirst("\\.png$", "");
        java.awt.image.BufferedImage mask = javax.imageio.ImageIO.read(masks.resolve(stem + ".png").toFile());
        java.awt.image.BufferedImage src = javax.imageio.ImageIO.read(img.toFile());
        assertEquals(src.getWidth(), mask.getWidth());
        assertEquals(src.getHeight(), mask.getHeight());
        assertTrue(mask.getColorModel() instanceof java.awt.image.IndexColorModel, "palette PNG");
        assertTrue(Files.size(masks.resolve(stem + "_overlay.png")) > 0);

        // the same run in another JVM, killed with SIGKILL mid-run, then resumed
        Path k = tmp.resolve("killed");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(args(k));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve("killed.log").toFile());
        pb.environment().put("OPENBLAS_NUM_THREADS", "1");
        Process p = pb.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        int iter = -1;
        while (p.isAlive() && System.nanoTime() < deadline) {
            iter = savedIter(k.resolve(SegTrainer.STATE));
            if (iter >= 3) break;
            Thread.sleep(2);
        }
        assertTrue(p.isAlive(), "the run ended before it could be killed (iteration " + iter + ")");
        p.destroyForcibly().waitFor();   // SIGKILL
        assertTrue(iter >= 3 && iter < 19, "killed at iteration " + iter);
        assertTrue(!Files.exists(k.resolve("metrics.json")));
        assertEquals(Main.OK, Main.execute("seg", "train", "--resume", k.toString(), "--threads", "1"));
        JsonNode r = json(k.resolve("metrics.json"));
        assertEquals(m.get("mIoU").asDouble(), r.get("mIoU").asDouble(), 0.0, "mIoU");
        assertEquals(m.get("iterations").asInt(), r.get("iterations").asInt());
        List<String> lu = column(u, 2), lk = column(k, 2);
        assertEquals(lu.size(), lk.size());
        for (int i = 1; i < lu.size(); i++)
            assertEquals(Double.parseDouble(lu.get(i)), Double.parseDouble(lk.get(i)), 1e-5, "loss at row " + i);
        Map<String, HostTensor> tk = Safetensors.read(k.resolve("shapes.safetensors")).tensors();
        for (String n : t.keySet()) {
            float[] a = t.get(n).toFloats(), b = tk.get(n).toFloats();
            for (int i = 0; i < a.length; i++) assertEquals(a[i], b[i], 1e-5 * (1 + Math.abs(a[i])), n);
        }
    }

    /** Every method (and CVPT with stored cross-attention weights) trains, saves its own tensors, and evaluates back. */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"head", "vpt", "full", "cvpt-stored"})
    void everyMethodSavesAndReloads(String which) throws Exception {
        String method = which.replace("-stored", "");
        Path run = tmp.resolve("m-" + which);
        List<String> a = new ArrayList<>(List.of("seg", "train", "--data", data.toString(), "--checkpoint", TestData.golden("micro.npz").toString(),
                "--out", run.toString(), "--method", method, "--prompts", "2", "--channels", "4", "--iters", "2", "--batch", "2",
                "--eval-every", "2", "--crop", "32", "--stride", "21", "--scale", "128x32", "--threads", "1"));
        if (which.endsWith("stored")) a.addAll(List.of("--cross-attn", "stored"));
        assertEquals(Main.OK, Main.execute(a.toArray(String[]::new)));
        Map<String, HostTensor> t = Safetensors.read(run.resolve("shapes.safetensors")).tensors();
        assertEquals(!method.equals("head") && !method.equals("full"), t.containsKey("backbone.Prompt_Tokens"), which);
        assertEquals(which.equals("cvpt-stored"), t.containsKey("backbone.layers.3.cross.proj.bias"), which);
        assertEquals(method.equals("full"), t.containsKey("backbone.layers.0.attn.attn.in_proj_weight"), which);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream old = System.out;
        System.setOut(new PrintStream(out, true));
        try {
            assertEquals(Main.OK, Main.execute("seg", "eval", "--data", data.toString(), "--task", run.resolve("shapes.safetensors").toString(), "--threads", "1"));
        } finally {
            System.setOut(old);
        }
        assertEquals(json(run.resolve("metrics.json")).get("mIoU").asDouble(), new ObjectMapper().readTree(out.toString()).get("mIoU").asDouble(), 0.0, which);
    }

    @Test
    void badInputIsOneLineAndExit2() {
        assertEquals(Main.BAD_INPUT, Main.execute("seg", "train", "--data", tmp.resolve("nothing").toString(), "--checkpoint",
                TestData.golden("micro.npz").toString(), "--out", tmp.resolve("bad").toString(), "--iters", "2"));
        assertEquals(Main.BAD_INPUT, Main.execute("seg", "eval", "--data", data.toString(), "--task", TestData.golden("micro.npz").toString()));
        assertEquals(Main.BAD_INPUT, Main.execute("seg", "train", "--data", data.toString(), "--checkpoint",
                TestData.golden("micro.npz").toString(), "--out", tmp.resolve("bad2").toString(), "--method", "lora"));
    }

    static int savedIter(Path state) {
        try {
            if (!Files.exists(state)) return -1;
            return Integer.parseInt(Safetensors.read(state).metadata().get("iter"));
        } catch (RuntimeException e) {
            return -1;
        }
    }

    static List<String> column(Path run, int c) throws IOException {
        return Files.readAllLines(run.resolve("metrics.csv")).stream().map(l -> l.split(",", -1)[c]).toList();
    }

    static JsonNode json(Path p) throws IOException { return new ObjectMapper().readTree(Files.readString(p)); }
}
