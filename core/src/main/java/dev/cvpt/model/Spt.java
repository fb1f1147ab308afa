package dev.cvpt.model;

import dev.cvpt.engine.Tensors;
import org.bytedeco.pytorch.Tensor;

import java.util.Map;

import static org.bytedeco.pytorch.global.torch.randn;
import static org.bytedeco.pytorch.global.torch.zeros;

/**
 * Self-Prompt Tuning (Wang et al., ICML 2024; official github:WangYZ1608/Self-Prompt-Tuning
 * Models/vpt_deep.py, Models/vpt.py, train.py, see shared/docs/methods/spt.md): VPT with the
 * prompts after the class token, {@code [CLS, prompts, patches]} (no position embedding), deep
 * (before block i ≥ 1 the slots 1..P are replaced by {@code prompt_token[i]}) or shallow, no prompt
 * dropout; what makes it SPT is the initialisation of {@code prompt_token} from prototypes of the
 * downstream tokens ({@link Prototypes}, done by the trainer with the training images).
 *
 * @param tokens {@code prompt_token} [L or 1, P, C]
 */
public record Spt(Tensor tokens) implements TuningMethod {
    public static final String NAME = "prompt_token";

    /** A fresh SPT: prompts zero until the prototype init fills them; head trunc_normal(std .02) (bounds ±2 absolute), bias 0 (train.py L245-251). */
    public static Spt create(VitConfig cfg, MethodSpec spec, Map<String, Tensor> params) {
        Tensor w = params.get("head.weight");
        params.put("head.weight", randn(w.shape()).mul(Tensors.scalar(0.02)).clamp(new org.bytedeco.pytorch.ScalarOptional(Tensors.scalar(-2)), new org.bytedeco.pytorch.ScalarOptional(Tensors.scalar(2))));
        params.put("head.bias", zeros(w.size(0)));
        int sets = spec.deep() ? cfg.depth() : 1;
        // the prototype init replaces these; U(±sqrt(6/(3p²+C))) (VPT's) stands in when it is 'uniform'
        double v = Math.sqrt(6.0 / (3.0 * cfg.patch() * cfg.patch() + cfg.dim()));
        return new Spt(Vfpt.uniform(v, sets, spec.prompts(), cfg.dim()));
    }

    public boolean deep() { return tokens.size(0) > 1; }

    @Override public String name() { return "spt"; }

    @Override public Map<String, Tensor> parameters() { return Map.of(NAME, tokens); }

    @Override public Tensor prototypeTarget() { return tokens; }

    @Override
    public Tensor beforeBlocks(VisionTransformer vit, Tensor x, boolean training) {
        return Prompts.afterCls(x, tokens.narrow(0, 0, 1));
    }

    @Override
    public BlockHooks blockHooks(VisionTransformer vit, int i, long batch, boolean training) {
        if (i == 0 || !deep()) return BlockHooks.NONE;
        Tensor p = tokens.narrow(0, i, 1);
        return new BlockHooks() {
            @Override public Tensor enter(Tensor x) { return Prompts.replaceAfterCls(x, p); }
        };
    }
}
