package dev.cvpt.verify;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cvpt.UserException;
import dev.cvpt.engine.Linear;
import dev.cvpt.engine.Native;
import dev.cvpt.engine.Tensors;
import dev.cvpt.io.Checkpoint;
import dev.cvpt.io.HostTensor;
import dev.cvpt.model.AdaptFormer;
import dev.cvpt.model.Adapter;
import dev.cvpt.model.Backbones;
import dev.cvpt.model.Draws;
import dev.cvpt.model.Dyt;
import dev.cvpt.model.Lora;
import dev.cvpt.model.MethodSpec;
import dev.cvpt.model.TuningMethod;
import dev.cvpt.model.VisionTransformer;
import dev.cvpt.train.Optimizer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

import static org.bytedeco.pytorch.global.torch.cross_entropy;

/**
 * The golden cases of the adapter methods (lora, adapter, adaptformer, dyt; shared/golden/methods/):
 * as {@link GoldenCheck}, plus what these cases carry: the method options from the config, the
 * training-mode step with the oracle's random draws ({@code noise/*}: dropout masks, Gumbel noise),
 * DyT's gates ({@code token_select}, {@code token_logits}) and loss parts, LoRA's merge
 * ({@code merged/*}, {@code logits_merged}) and the backbone's logits ({@code logits_backbone}).
 */
final class AdapterGoldens {
    private AdapterGoldens() {}

    static boolean handles(String method) {
        return method.equals(Lora.NAME) || method.equals(Adapter.NAME) || method.equals(AdaptFormer.NAME) || method.equals(Dyt.NAME);
    }

    /** The method's options as the config of a case names them. */
    static MethodSpec spec(Path caseFile, JsonNode c) {
        String m = c.path("method").asText();
        MethodSpec s = new MethodSpec(m, 3, 1, true, 0);
        try {
            switch (m) {
                case Lora.NAME -> s = s.withOption("lora-rank", c.path("lora_rank").asInt(8))
                        .withOption("lora-targets", c.path("lora_targets").asText("qkv"))
                        .withOption("lora-scale", c.path("lora_scale").asDouble(1))
                        .withOption("lora-dropout", c.path("dropout").asDouble(0.1));
                case Adapter.NAME -> s = s.withOption("adapter-dim", c.path("adapter_bottleneck").asInt(8))
                        .withOption("adapter-dropout", c.path("dropout").asDouble(0.1));
                case AdaptFormer.NAME -> {
                    JsonNode sc = c.path("adapter_scale");
                    s = s.withOption("adapter-dim", c.path("adapter_bottleneck").asInt(8))
                            .withOption("adaptformer-scale", sc.isNumber() ? (Object) sc.asDouble() : sc.asText("0.1"))
                            .withOption("adaptformer-layernorm", c.path("adapter_layernorm").asText("none"))
                            .withOption("adaptformer-option", c.path("ffn_option").asText("parallel"))
                            .withOption("adapter-dropout", c.path("dropout").asDouble(0.1));
                    if (c.has("adapter_layernorm_eps") && c.get("adapter_layernorm_eps").asDouble() != 1e-5)
                        throw new UserException(caseFile + ": config.adapter_layernorm_eps must be 1e-5 (torch's LayerNorm default, as the official code)");
                }
                default -> {
                    if (!c.path("dispatch").asText("mlp").equals("mlp"))
                        throw new UserException(caseFile + ": config.dispatch '" + c.get("dispatch").asText() + "': the official DyT code has MLP dispatch only");
                    if (c.path("gate_threshold").asDouble(0.5) != 0.5)
                        throw new UserException(caseFile + ": config.gate_threshold must be 0.5 (the official value)");
                    s = s.withOption("adapter-dim", c.path("bottleneck").asInt(16))
                            .withOption("adapter-dropout", c.path("adapter_dropout").asDouble(0.1))
                            .withOption("dyt-scale", c.path("adapter_scale").asDouble(1))
                            .withOption("dyt-tau", c.path("gumbel_tau").asDouble(5))
                            .withOption("dyt-rate", c.path("flops_target").asDouble(0.5))
                            .withOption("dyt-rate-weight", c.path("flops_loss_weight").asDouble(2))
                            .withOption("dyt-distill", c.path("distill").asBoolean(true))
                            .withOption("dyt-norm", "imagenet");   // a case's images are the model's input as they are
                }
            }
        } catch (IllegalArgumentException e) {
            throw new UserException(caseFile + ": config: " + e.getMessage());
        }
        return s;
    }

    static Draws draws(TuningMethod m) {
        if (m instanceof Draws.Source s) return s.draws();
        throw new IllegalStateException(m.name() + " draws nothing");
    }

    static GoldenCheck.Result run(Path caseFile, Path checkpointFile, JsonNode cfg, Map<String, HostTensor> golden, Checkpoint ckpt) {
        MethodSpec spec = spec(caseFile, cfg);
        int classes = cfg.path("num_classes").asInt(-1);
        OptionalInt heads = cfg.has("heads") ? OptionalInt.of(cfg.get("heads").asInt()) : ckpt.heads();
        double lr = cfg.path("lr").asDouble(1e-3), wd = cfg.has("weight_decay") ? cfg.get("weight_decay").asDouble() : cfg.path("wd").asDouble(0);
        String dtype = cfg.path("dtype").asText("float32");
        if (!dtype.equals("float32") && !dtype.equals("float64"))
            throw new UserException(caseFile + ": config.dtype must be float32 or float64, got " + dtype);
        // float64 cases run in float32 (the model's precision; inputs rounded to float32): their float32
        // rounding is the comparison's error, far inside the tolerances
        if (cfg.path("drop_path_rate").asDouble(0) != 0)
            throw new UserException(caseFile + ": config.drop_path_rate must be 0 (drop-path draws are not part of the case)");
        boolean isDyt = spec.method().equals(Dyt.NAME);
        boolean training = isDyt ? cfg.path("mode").asText("eval").equals("train") : cfg.path("train_noise").asBoolean(false);

        Native.load();
        Map<String, GoldenCheck.Entry> entries = new LinkedHashMap<>();
        Map<String, HostTensor> computed = new LinkedHashMap<>();
        try (PointerScope scope = new PointerScope()) {
            Backbones.Backbone bb = Backbones.backbone(checkpointFile, ckpt.tensors(), heads);
            VisionTransformer vit;
            try {
                vit = Backbones.assemble(bb, spec, classes);
            } catch (IllegalArgumentException e) {
                throw new UserException(caseFile + ": config: " + e.getMessage());
            }
            Map<String, Tensor> trainable = vit.trainableParameters();
            try (NoGradGuard g = new NoGradGuard()) {
                trainable.forEach((n, t) -> Tensors.copyInto(t, caseFile, golden, "init/" + n, "the case"));
            }
            Map<String, Tensor> noise = new LinkedHashMap<>();
            golden.forEach((k, v) -> { if (k.startsWith("noise/")) noise.put(k.substring(6), Tensors.fromHost(v)); });
            if (training && noise.isEmpty()) throw new UserException(caseFile + ": a training-mode case without noise/* arrays");
            Tensor images = Tensors.fromHost(GoldenCheck.need(caseFile, golden, "images"));
            Tensor labels = Tensors.fromHost(GoldenCheck.need(caseFile, golden, "labels"));
            Map<String, float[]> ours = new LinkedHashMap<>();

            try (NoGradGuard g = new NoGradGuard()) {   // checks made from the init values, before the step
                if (cfg.path("merged").asBoolean(false) && vit.method() instanceof Lora lora) {
                    Map<String, Tensor> merged = new LinkedHashMap<>(bb.params());
                    for (int i = 0; i < bb.config().depth(); i++) {
                        Tensor w = lora.mergedQkv(vit, i);
                        merged.put("blocks." + i + ".attn.qkv.weight", w);
                        ours.put("merged/blocks." + i + ".attn.qkv.weight", Tensors.toFloats(w));
                    }
                    ours.put("logits_merged", Tensors.toFloats(plain(new Backbones.Backbone(bb.file(), bb.config(), merged), vit, images)));
                }
                if (cfg.path("backbone_logits").asBoolean(false)) ours.put("logits_backbone", Tensors.toFloats(plain(bb, vit, images)));
            }

            Draws draws = draws(vit.method());
            draws.give(training ? noise : null);
            List<Tensor> taps = new ArrayList<>();
            Tensor feat, logits, loss;
            try (Linear.GradHooks hooks = Linear.gradHooks()) {
                if (vit.method() instanceof Dyt dyt) {
                    Dyt.Forward f;
                    if (training) {
                        Dyt.Loss l = dyt.loss(vit, images, labels, taps);
                        f = l.student();
                        loss = l.loss();
                        ours.put("loss_cls", Tensors.toFloats(l.ce()));
                        ours.put("loss_flops", Tensors.toFloats(l.rateLoss()));
                        if (l.teacherLogits() != null) {
                            ours.put("teacher_logits", Tensors.toFloats(l.teacherLogits()));
                            ours.put("loss_teacher", Tensors.toFloats(l.teacherCe()));
                            ours.put("loss_distill", Tensors.toFloats(l.distillLoss()));
                        }
                    } else {
                        f = dyt.forward(vit, images, false, false, "", taps);
                        loss = cross_entropy(f.logits(), labels);
                    }
                    feat = f.feat();
                    logits = f.logits();
                    ours.put("token_logits", Tensors.toFloats(f.tokenLogits()));
                    ours.put("token_select", Tensors.toFloats(f.tokenSelect()));
                } else {
                    feat = vit.features(images, training, taps);
                    logits = vit.head(feat);
                    loss = cross_entropy(logits, labels);
                }
                loss.backward();
            }
            draws.give(null);
            ours.put("feat", Tensors.toFloats(feat));
            ours.put("logits", Tensors.toFloats(logits));
            ours.put("loss", Tensors.toFloats(loss));
            ours.put("embed", Tensors.toFloats(taps.get(0)));
            for (int i = 1; i < taps.size(); i++) ours.put("blocks/" + (i - 1), Tensors.toFloats(taps.get(i)));
            trainable.forEach((n, t) -> ours.put("grad/" + n, Tensors.toFloats(t.grad())));

            Optimizer opt = GoldenCheck.optimizer(caseFile, cfg, trainable);
            opt.step(lr);
            trainable.forEach((n, t) -> ours.put("after/" + n, Tensors.toFloats(t)));
            try (NoGradGuard g = new NoGradGuard()) {
                Tensor after;
                if (vit.method() instanceof Dyt dyt) {
                    Dyt.Forward f = dyt.forward(vit, images, false, false, "", null);
                    after = f.logits();
                    ours.put("token_select_after", Tensors.toFloats(f.tokenSelect()));
                } else {
                    after = vit.forward(images, false);
                }
                ours.put("logits_after", Tensors.toFloats(after));
                ours.put("loss_after", Tensors.toFloats(cross_entropy(after, labels)));
            }
            GoldenCheck.compareEntries(caseFile, cfg, golden, ours, trainable, opt, lr, wd, entries, computed);
        }
        return new GoldenCheck.Result(caseFile, checkpointFile, entries, computed);
    }

    /** Eval logits of the plain ViT on {@code bb} (no method) with the head of {@code tuned}. */
    private static Tensor plain(Backbones.Backbone bb, VisionTransformer tuned, Tensor images) {
        VisionTransformer p = Backbones.assemble(bb, new MethodSpec("linear", 3, 1, true, 0), tuned.numClasses());
        p.param("head.weight").copy_(tuned.param("head.weight"));
        p.param("head.bias").copy_(tuned.param("head.bias"));
        return p.forward(images, false);
    }
}
