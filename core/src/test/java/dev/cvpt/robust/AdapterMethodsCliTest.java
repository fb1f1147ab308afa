package dev.cvpt.robust;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cvpt.io.HostTensor;
import dev.cvpt.io.Safetensors;
import dev.cvpt.train.TaskFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The adapter methods from the command line: train (1 epoch on the micro backbone), the task file's
 * official names, eval reproducing the run's accuracy, predict, LoRA's merge, bench, and the one-line
 * errors for bad options and mismatched task files.
 */
class AdapterMethodsCliTest {
    static final ObjectMapper JSON = new ObjectMapper();

    private static Path train(Path dir, String method, String... extra) {
        Path run = dir.resolve(method);
        String[] base = {"train", "--data", Fixtures.data().toString(), "--checkpoint", Fixtures.micro("npz").toString(), "--out",
                run.toString(), "--method", method, "--epochs", "1", "--batch", "32", "--threads", "1", "--no-progress"};
        String[] args = java.util.stream.Stream.concat(java.util.Arrays.stream(base), java.util.Arrays.stream(extra)).toArray(String[]::new);
        Cli.Run r = Cli.run(args);
        assertEquals(0, r.rc(), r.toString());
        return run.resolve("disk.safetensors");
    }

    private static double evalTop1(Path task) throws Exception {
        Cli.Run r = Cli.run("eval", "--data", Fixtures.data().toString(), "--task", task.toString(), "--threads", "1");
        assertEquals(0, r.rc(), r.toString());
        return JSON.readTree(r.out().strip()).get("test_top1").asDouble();
    }

    private static double runTop1(Path task) throws Exception {
        return JSON.readTree(Files.readString(task.resolveSibling("metrics.json"))).get("test_top1").asDouble();
    }

    @Test
    void everyMethodTrainsAndEvalReproducesIt(@TempDir Path dir) throws Exception {
        Map<String, String[]> runs = new java.util.LinkedHashMap<>();
        runs.put("lora", new String[]{"--lora-rank", "4", "--lora-targets", "qv"});
        runs.put("adapter", new String[]{"--adapter-dim", "4"});
        runs.put("adaptformer", new String[]{"--adaptformer-scale", "learnable", "--adaptformer-layernorm", "in"});
        runs.put("dyt", new String[]{"--dyt-rate", "0.3"});
        Map<String, String> officialName = Map.of("lora", "blocks.0.attn.LoRA_b.weight", "adapter", "blocks.3.adapter.sampled_bias_1",
                "adaptformer", "blocks.1.adaptmlp.scale", "dyt", "blocks.2.mlp_token_select.mlp_head.weight");
        for (var e : runs.entrySet()) {
            Path task = train(dir, e.getKey(), e.getValue());
            assertEquals(runTop1(task), evalTop1(task), 1e-9, e.getKey());
            TaskFile tf = TaskFile.read(task);
            assertTrue(tf.tensors().containsKey(officialName.get(e.getKey())), e.getKey() + ": " + tf.tensors().keySet());
            JsonNode run = JSON.readTree(Files.readString(task.resolveSibling("run.json")));
            assertEquals(e.getValue()[1], run.path("options").path(e.getValue()[0].substring(2)).asText(), run.toString());
            assertEquals(e.getKey(), tf.spec().method());
            Cli.Run p = Cli.run("predict", "--task", task.toString(), "--threads", "1", Fixtures.image().toString());
            assertEquals(0, p.rc(), p.toString());
        }
        // NOAH's state dict holds ln2.bias twice: the alias equals the tensor
        TaskFile ad = TaskFile.read(dir.resolve("adapter/disk.safetensors"));
        assertArrayEquals(ad.tensors().get("blocks.3.adapter.ln2.bias").toFloats(), ad.tensors().get("blocks.3.adapter.sampled_bias_1").toFloats());
        // the recipes: NOAH's for lora (no decay on biases/1-d), DyT's per-step schedule
        JsonNode lr = JSON.readTree(Files.readString(dir.resolve("lora/run.json"))).path("recipe");
        assertEquals("no-bias-1d", lr.path("optim").path("decay").asText(), lr.toString());
        assertEquals(1e-4, lr.path("weightDecay").asDouble(), 0);
        JsonNode dr = JSON.readTree(Files.readString(dir.resolve("dyt/run.json"))).path("recipe");
        assertEquals("dyt", dr.path("optim").path("schedule").asText(), dr.toString());
        assertEquals(0.0, dr.path("dropPath").asDouble(), 0);

        // LoRA merged into the backbone: same accuracy from a plain linear task file
        Path merged = dir.resolve("merged.safetensors");
        Cli.Run x = Cli.run("export", "--merge", "--task", dir.resolve("lora/disk.safetensors").toString(), "--out", merged.toString());
        assertEquals(0, x.rc(), x.toString());
        Path mergedTask = dir.resolve("merged-task.safetensors");
        assertEquals("linear", TaskFile.read(mergedTask).spec().method());
        assertEquals(evalTop1(dir.resolve("lora/disk.safetensors")), evalTop1(mergedTask), 1e-9);
        Cli.fails(2, new String[]{"export", "--merge", "--task", dir.resolve("dyt/disk.safetensors").toString(), "--out", dir.resolve("m2.safetensors").toString()},
                "disk.safetensors", "dyt");

        // a task file whose options do not match its tensors: one line naming the file and the tensor
        Path bad = dir.resolve("bad.safetensors");
        TaskFile lt = TaskFile.read(dir.resolve("lora/disk.safetensors"));
        ObjectNode info = lt.info().deepCopy();
        ((ObjectNode) info.get("options")).put("lora-rank", 2);
        Map<String, HostTensor> t = new HashMap<>(lt.tensors());
        new TaskFile(bad, t, info).write();
        Cli.fails(2, new String[]{"eval", "--data", Fixtures.data().toString(), "--task", bad.toString()}, "bad.safetensors", "LoRA_a");
        ((ObjectNode) info.get("options")).put("lora-rank", 0);
        new TaskFile(bad, t, info).write();
        Cli.fails(2, new String[]{"eval", "--data", Fixtures.data().toString(), "--task", bad.toString()}, "bad.safetensors", "--lora-rank");
    }

    @Test
    void badOptionsNameTheFlag(@TempDir Path dir) {
        String[] base = {"train", "--data", Fixtures.data().toString(), "--checkpoint", Fixtures.micro("npz").toString(), "--out",
                dir.resolve("r").toString(), "--epochs", "1", "--threads", "1", "--no-progress"};
        check(base, new String[]{"--method", "lora", "--lora-rank", "0"}, "--lora-rank");
        check(base, new String[]{"--method", "lora", "--lora-targets", "qx"}, "--lora-targets");
        check(base, new String[]{"--method", "adapter", "--lora-rank", "4"}, "--lora-rank", "adapter");
        check(base, new String[]{"--method", "adaptformer", "--adaptformer-scale", "big"}, "--adaptformer-scale");
        check(base, new String[]{"--method", "adaptformer", "--adaptformer-option", "serial"}, "--adaptformer-option");
        check(base, new String[]{"--method", "dyt", "--dyt-rate", "2"}, "--dyt-rate");
        check(base, new String[]{"--method", "adapter", "--adapter-init", "zeros"}, "--adapter-init");
        check(base, new String[]{"--method", "cvpt", "--dyt-no-distill"}, "--dyt-no-distill", "cvpt");
        assertTrue(!Files.exists(dir.resolve("r")), "no run folder after bad options");
    }

    private static void check(String[] base, String[] extra, String... fragments) {
        String[] args = java.util.stream.Stream.concat(java.util.Arrays.stream(base), java.util.Arrays.stream(extra)).toArray(String[]::new);
        Cli.fails(2, args, fragments);
    }

    @Test
    void benchComparesWithTheBaselineInTheSameRun() throws Exception {
        Cli.Run r = Cli.run("bench", "--method", "dyt", "--mode", "infer", "--size", "micro", "--batch", "4", "--steps", "2", "--threads", "1");
        assertEquals(0, r.rc(), r.toString());
        JsonNode j = JSON.readTree(r.out().strip());
        double rate = j.get("gate_rate").asDouble();
        assertTrue(rate > 0 && rate < 1, j.toString());
        assertTrue(j.path("images_per_s").has("all_tokens") && j.path("speed_ratios").has("dyt/all_tokens"), j.toString());
        Cli.Run l = Cli.run("bench", "--method", "lora", "--mode", "infer", "--size", "micro", "--batch", "4", "--steps", "2", "--threads", "1");
        assertEquals(0, l.rc(), l.toString());
        JsonNode lj = JSON.readTree(l.out().strip());
        assertTrue(lj.get("merged_logits_rel").asDouble() < 1e-5, lj.toString());
        assertTrue(lj.path("speed_ratios").has("merged/plain_backbone"), lj.toString());
    }
}
