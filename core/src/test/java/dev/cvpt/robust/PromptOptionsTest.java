package dev.cvpt.robust;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cvpt.io.HostTensor;
import dev.cvpt.io.Safetensors;
import dev.cvpt.train.TaskFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/** Wrong options of the prompt methods (VFPT, E2VPT, SPT): one line naming the flag or file, exit 2, nothing written. */
class PromptOptionsTest {
    @TempDir Path tmp;

    private String[] train(String out, String... more) {
        String[] base = {"train", "--data", Fixtures.data().toString(), "--checkpoint", Fixtures.micro("npz").toString(),
                "--out", tmp.resolve(out).toString(), "--epochs", "1", "--threads", "1", "--no-progress"};
        String[] all = new String[base.length + more.length];
        System.arraycopy(base, 0, all, 0, base.length);
        System.arraycopy(more, 0, all, base.length, more.length);
        return all;
    }

    @Test
    @Timeout(120)
    void badFlagsNameTheFlag() {
        record Case(String name, String[] args, String... fragments) {}
        Case[] cases = {
                new Case("unknown method", train("a", "--method", "vfptx"), "--method", "unknown method 'vfptx'"),
                new Case("Fourier fraction above 1", train("b", "--method", "vfpt", "--fourier-fraction", "1.5"), "--fourier-fraction must be in [0,1], got 1.5"),
                new Case("Fourier fraction below 0", train("c", "--method", "vfpt", "--fourier-fraction", "-0.1"), "--fourier-fraction must be in [0,1]"),
                new Case("no Fourier prompt", train("d", "--method", "vfpt", "--prompts", "1", "--fourier-fraction", "0.5"), "--fourier-fraction 0.5 with 1 prompts gives floor"),
                new Case("Fourier dimension", train("e", "--method", "vfpt", "--fourier-dimension", "depth"), "--fourier-dimension must be all, hidden or sequence"),
                new Case("all tokens masked", train("f", "--method", "e2vpt", "--prompts", "3", "--mask", "fixed", "--masked-tokens", "0,1,2"),
                        "--masked-tokens masks 3 tokens but there are 3 prompts"),
                new Case("masked token beyond the prompts", train("g", "--method", "e2vpt", "--prompts", "5", "--mask", "fixed", "--masked-tokens", "0,7"),
                        "--masked-tokens: token 7 is not one of the 5 prompts"),
                new Case("masked pieces without fixed masks", train("h", "--method", "e2vpt", "--masked-pieces", "0:1"), "need --mask fixed"),
                new Case("mask mode", train("i", "--method", "e2vpt", "--mask", "sometimes"), "--mask must be none, trainable or fixed"),
                new Case("KV prompts", train("j", "--method", "e2vpt", "--kv-prompts", "0"), "--kv-prompts must be at least 1"),
                new Case("option of another method", train("k", "--method", "vpt", "--fourier-fraction", "0.5"), "--fourier-fraction is an option of vfpt"),
                new Case("prompt init", train("l", "--method", "spt", "--prompt-init", "median"), "--prompt-init must be uniform"),
                new Case("optimizer", train("m", "--method", "vfpt", "--optimizer", "lamb"), "--optimizer: unknown optimizer 'lamb'"),
                new Case("weight-decay rule", train("n", "--method", "spt", "--wd-rule", "some"), "--wd-rule: unknown weight-decay rule 'some'"),
                new Case("bench Fourier fraction", new String[]{"bench", "--method", "vfpt", "--size", "micro", "--fourier-fraction", "2"},
                        "--fourier-fraction must be in [0,1], got 2.0"),
        };
        for (Case c : cases) {
            Cli.Run r = Cli.fails(2, c.args(), c.fragments());
            Cli.record(c.args()[0], c.name(), r);
            if (c.args()[0].equals("train")) assertFalse(Files.exists(Path.of(c.args()[6])), "run folder made: " + r);
        }
    }

    /** Task files of the new methods whose tensors or options do not fit: the file and the tensor (or option) are named. */
    @Test
    @Timeout(300)
    void taskFilesThatDoNotFit() throws IOException {
        Cli.Run r = Cli.run(train("e2", "--method", "e2vpt", "--prompts", "4", "--kv-prompts", "2", "--mask", "fixed",
                "--masked-tokens", "1", "--masked-pieces", "0:3"));
        assertEquals(0, r.rc(), r.toString());
        Path task = tmp.resolve("e2/disk.safetensors");
        var st = Safetensors.read(task);
        assertEquals(0f, st.tensors().get("prompt_soft_tokens_mask_cls_token").toFloats()[1]);   // the fixed mask is in the file
        assertEquals(0f, st.tensors().get("prompt_soft_tokens_pieces_mask_cls_token").toFloats()[3]);
        Path micro = Fixtures.micro("npz");
        String data = Fixtures.data().toString();
        assertEquals(0, Cli.run("eval", "--data", data, "--task", task.toString(), "--threads", "1").rc());   // the file itself loads
        record Case(String name, Path task, String... fragments) {}
        Case[] cases = {
                new Case("KV prompts of another count", edit(task, "kv3", t -> { }, i -> ((ObjectNode) i.get("options")).put("kv-prompts", 3)),
                        "tensor 'blocks.0.attn.deep_QKV_embeddings': expected shape [4, 3, 16] for this backbone, got [4, 2, 16]"),
                new Case("mask missing", edit(task, "nomask", t -> t.remove("prompt_soft_tokens_mask_cls_token"), i -> { }),
                        "tensor 'prompt_soft_tokens_mask_cls_token': missing from the task file"),
                new Case("visual prompts of another count", edit(task, "p6", t -> { }, i -> i.put("prompts", 6)),
                        "tensor 'prompt_embeddings': expected shape [1, 6, 64]"),
                new Case("Fourier fraction in a task file", edit(task, "frac", t -> { }, i -> {
                    i.put("method", "vfpt");
                    ((ObjectNode) i.get("options")).removeAll().put("fourier-fraction", 3.0);
                }), "--fourier-fraction must be in [0,1], got 3.0"),
        };
        for (Case c : cases) {
            String name = c.task().getFileName().toString();
            String[] f = new String[c.fragments().length + 1];
            f[0] = name;
            System.arraycopy(c.fragments(), 0, f, 1, c.fragments().length);
            Cli.Run e = Cli.fails(2, new String[]{"eval", "--data", data, "--task", c.task().toString(), "--checkpoint", micro.toString(),
                    "--threads", "1"}, f);
            Cli.record("eval", "task file: " + c.name(), e);
        }
    }

    private Path edit(Path task, String name, Consumer<Map<String, HostTensor>> tensors, Consumer<ObjectNode> info) throws IOException {
        TaskFile tf = TaskFile.read(task);
        Map<String, HostTensor> t = new LinkedHashMap<>(tf.tensors());
        tensors.accept(t);
        ObjectNode i = tf.info().deepCopy();
        info.accept(i);
        Path out = tmp.resolve(name + ".safetensors");
        new TaskFile(out, t, i).write();
        return out;
    }
}
