package dev.cvpt.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cvpt.TestData;
import dev.cvpt.cli.Main;
import dev.cvpt.io.Safetensors;
import dev.cvpt.synth.SyntheticTasks;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** VFPT, E2VPT and SPT train from the command line; the task file holds their tensors; eval reproduces the run's accuracy; predict serves it. */
class PromptMethodsTrainTest {
    @TempDir static Path tmp;
    static Path data;

    @BeforeAll
    static void data() throws IOException {
        data = SyntheticTasks.write(tmp.resolve("synth"), "disk", 32, 1, 64, 0, 32, 1);
    }

    private static JsonNode train(String name, String... more) throws IOException {
        List<String> a = new ArrayList<>(List.of("train", "--data", data.toString(), "--checkpoint", TestData.golden("micro.npz").toString(),
                "--out", tmp.resolve(name).toString(), "--epochs", "3", "--warmup", "1", "--batch", "16", "--threads", "1", "--no-progress"));
        a.addAll(List.of(more));
        assertEquals(Main.OK, Main.execute(a.toArray(String[]::new)));
        JsonNode m = new ObjectMapper().readTree(Files.readString(tmp.resolve(name).resolve("metrics.json")));
        PrintStream old = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true));
            assertEquals(Main.OK, Main.execute("eval", "--data", data.toString(), "--task", tmp.resolve(name).resolve("disk.safetensors").toString(), "--threads", "1"));
            assertEquals(Main.OK, Main.execute("predict", "--task", tmp.resolve(name).resolve("disk.safetensors").toString(),
                    data.resolve("images/test/000000.png").toString()));
        } finally {
            System.setOut(old);
        }
        double evalTop1 = new ObjectMapper().readTree(out.toString().lines().findFirst().orElseThrow()).get("test_top1").asDouble();
        assertEquals(m.get("test_top1").asDouble(), evalTop1, 0.0, name + ": eval must reproduce the run's accuracy");
        return new ObjectMapper().readTree(Files.readString(tmp.resolve(name).resolve("run.json")));
    }

    private static List<String> tensors(String run) {
        return List.copyOf(Safetensors.read(tmp.resolve(run).resolve("disk.safetensors")).tensors().keySet());
    }

    @Test
    @Timeout(240)
    void vfpt() throws IOException {
        JsonNode run = train("vfpt", "--method", "vfpt", "--prompts", "4", "--fourier-fraction", "0.5", "--fourier-location", "append");
        assertEquals(List.of("prompt_embeddings", "deep_prompt_embeddings", "head.weight", "head.bias"), tensors("vfpt"));
        assertEquals(0.5, run.path("options").path("fourier-fraction").asDouble());
        assertEquals("append", run.path("options").path("fourier-location").asText());
        assertEquals("sgd", run.path("recipe").path("optim").path("optimizer").asText());
        assertEquals("no-head-bias", run.path("recipe").path("optim").path("decay").asText());
        assertEquals(2.5 * 16 / 256, run.path("recipe").path("lr").asDouble(), 1e-15);
        JsonNode info = new ObjectMapper().readTree(Files.readString(tmp.resolve("vfpt/disk.json")));
        assertEquals("enc.transformer.deep_prompt_embeddings", info.path("official_names").path("deep_prompt_embeddings").asText());
    }

    @Test
    @Timeout(240)
    void e2vptWithTrainableMasks() throws IOException {
        JsonNode run = train("e2vpt", "--method", "e2vpt", "--prompts", "4", "--kv-prompts", "2", "--mask", "trainable");
        assertEquals(List.of("prompt_embeddings", "deep_prompt_embeddings", "blocks.0.attn.deep_QKV_embeddings",
                "blocks.1.attn.deep_QKV_embeddings", "blocks.2.attn.deep_QKV_embeddings", "blocks.3.attn.deep_QKV_embeddings",
                "prompt_soft_tokens_mask_cls_token", "prompt_soft_tokens_pieces_mask_cls_token", "head.weight", "head.bias"), tensors("e2vpt"));
        assertEquals("trainable", run.path("options").path("mask").asText());
        // the masks trained (SGD with weight decay moves them off 1)
        float[] mask = Safetensors.read(tmp.resolve("e2vpt/disk.safetensors")).tensors().get("prompt_soft_tokens_mask_cls_token").toFloats();
        assertNotEquals(1f, mask[0]);
    }

    @Test
    @Timeout(240)
    void sptAndPrototypeInitForVpt() throws IOException {
        JsonNode run = train("spt", "--method", "spt", "--prompts", "4", "--lr", "1e-2");
        assertEquals(List.of("prompt_token", "head.weight", "head.bias"), tensors("spt"));
        assertEquals("mean_pooling", run.path("options").path("prompt-init").asText());
        assertEquals("spt", run.path("recipe").path("optim").path("schedule").asText());
        assertTrue(Files.readString(tmp.resolve("spt/train.log")).contains("prompt init: mean_pooling prototypes of 64 training images"));
        JsonNode vpt = train("vpt-kmeans", "--method", "vpt", "--prompts", "3", "--lr", "1e-2", "--prompt-init", "kmeans", "--kmeans-iters", "3",
                "--proto-images", "8");
        assertEquals(3, vpt.path("options").path("kmeans-iters").asInt());
        assertTrue(Files.readString(tmp.resolve("vpt-kmeans/train.log")).contains("prompt init: kmeans prototypes of 8 training images"));
    }
}
