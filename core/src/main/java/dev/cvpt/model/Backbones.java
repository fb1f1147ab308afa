package dev.cvpt.model;

import dev.cvpt.engine.Native;
import dev.cvpt.engine.Precision;
import dev.cvpt.engine.Tensors;
import dev.cvpt.io.CheckpointException;
import dev.cvpt.io.HostTensor;
import org.bytedeco.pytorch.Tensor;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalInt;

import static org.bytedeco.pytorch.global.torch.rand;

/** Builds a {@link VisionTransformer} from timm-named checkpoint tensors, checking every name and shape. */
public final class Backbones {
    /** timm's ViTs use 64-wide heads (Ti 192/3, S 384/6, B 768/12, L 1024/16). */
    public static final int DEFAULT_HEAD_DIM = 64;

    private Backbones() {}

    /**
     * Reads the dims from the tensors. {@code heads} wins when present; otherwise heads = C/64.
     *
     * @throws CheckpointException naming the file and tensor when something is missing or misshapen
     */
    public static VitConfig configOf(Path file, Map<String, HostTensor> t, OptionalInt heads) {
        HostTensor pe = require(file, t, "patch_embed.proj.weight");
        if (pe.rank() != 4 || pe.shape()[1] != 3 || pe.shape()[2] != pe.shape()[3])
            throw new CheckpointException(file, "patch_embed.proj.weight", "expected shape [C,3,p,p], got " + pe.shapeString());
        int dim = (int) pe.shape()[0], patch = (int) pe.shape()[2];
        HostTensor pos = require(file, t, "pos_embed");
        long tokens = pos.rank() == 3 ? pos.shape()[1] : -1;
        long side = Math.round(Math.sqrt(Math.max(0, tokens - 1)));
        if (pos.rank() != 3 || pos.shape()[0] != 1 || pos.shape()[2] != dim || side * side != tokens - 1)
            throw new CheckpointException(file, "pos_embed", "expected shape [1, 1+n*n, " + dim + "], got " + pos.shapeString());
        int depth = 0;
        while (t.containsKey("blocks." + depth + ".norm1.weight")) depth++;
        if (depth == 0) throw new CheckpointException(file, "blocks.0.norm1.weight", "missing: not a ViT checkpoint (no blocks)");
        HostTensor fc1 = require(file, t, "blocks.0.mlp.fc1.weight");
        if (fc1.rank() != 2 || fc1.shape()[0] < 1)
            throw new CheckpointException(file, "blocks.0.mlp.fc1.weight", "expected shape [hidden, " + dim + "], got " + fc1.shapeString());
        int hidden = (int) fc1.shape()[0];
        int h;
        if (heads.isPresent()) h = heads.getAsInt();
        else if (dim % DEFAULT_HEAD_DIM == 0) h = dim / DEFAULT_HEAD_DIM;
        else throw new CheckpointException(file, null, "cannot tell the number of attention heads of a " + dim
                + "-wide ViT from its weights; pass --heads");
        if (h <= 0 || dim % h != 0)
            throw new CheckpointException(file, null, "heads " + h + " does not divide the width " + dim);
        VitConfig cfg = new VitConfig(dim, depth, h, patch, (int) side * patch, hidden);
        expectShapes(file, t, cfg);
        return cfg;
    }

    /** The backbone tensors every ViT checkpoint must hold, with their shapes. */
    public static Map<String, long[]> expectedShapes(VitConfig c) {
        long C = c.dim(), H = c.mlpHidden();
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put("patch_embed.proj.weight", new long[]{C, 3, c.patch(), c.patch()});
        m.put("patch_embed.proj.bias", new long[]{C});
        m.put("cls_token", new long[]{1, 1, C});
        m.put("pos_embed", new long[]{1, c.tokens(), C});
        for (int i = 0; i < c.depth(); i++) {
            String b = "blocks." + i + ".";
            m.put(b + "norm1.weight", new long[]{C});
            m.put(b + "norm1.bias", new long[]{C});
            m.put(b + "attn.qkv.weight", new long[]{3 * C, C});
            m.put(b + "attn.qkv.bias", new long[]{3 * C});
            m.put(b + "attn.proj.weight", new long[]{C, C});
            m.put(b + "attn.proj.bias", new long[]{C});
            m.put(b + "norm2.weight", new long[]{C});
            m.put(b + "norm2.bias", new long[]{C});
            m.put(b + "mlp.fc1.weight", new long[]{H, C});
            m.put(b + "mlp.fc1.bias", new long[]{H});
            m.put(b + "mlp.fc2.weight", new long[]{C, H});
            m.put(b + "mlp.fc2.bias", new long[]{C});
        }
        m.put("norm.weight", new long[]{C});
        m.put("norm.bias", new long[]{C});
        return m;
    }

    private static void expectShapes(Path file, Map<String, HostTensor> t, VitConfig cfg) {
        for (var e : expectedShapes(cfg).entrySet()) {
            HostTensor h = require(file, t, e.getKey());
            if (!Arrays.equals(h.shape(), e.getValue()))
                throw new CheckpointException(file, e.getKey(), "expected shape " + Arrays.toString(e.getValue())
                        + ", got " + h.shapeString());
        }
    }

    private static HostTensor require(Path file, Map<String, HostTensor> t, String name) {
        HostTensor h = t.get(name);
        if (h == null) throw new CheckpointException(file, name, "missing from the checkpoint");
        return h;
    }

    /**
     * Frozen backbone tensors on the engine, shareable by several tuned models (tasks);
     * {@code lowWeights}: the bf16 copies of its block linears under {@link Precision#BF16} (else empty),
     * made once here and shared by every model built on it.
     */
    public record Backbone(Path file, VitConfig config, Map<String, Tensor> params, Map<String, Tensor> lowWeights) {
        /** A backbone in this process's {@link Precision}. */
        public Backbone(Path file, VitConfig config, Map<String, Tensor> params) {
            this(file, config, params, Precision.current().lowWeights(params));
        }
    }

    /** Loads and checks the backbone tensors (not the head). */
    public static Backbone backbone(Path file, Map<String, HostTensor> t, OptionalInt heads) {
        Native.load();
        VitConfig cfg = configOf(file, t, heads);
        Map<String, Tensor> params = new LinkedHashMap<>();
        for (String name : expectedShapes(cfg).keySet()) params.put(name, Tensors.fromHost(t.get(name)));
        return new Backbone(file, cfg, params);
    }

    /**
     * Builds the model: frozen backbone from the checkpoint, a fresh head for {@code numClasses}
     * (nn.Linear's default init, as the official train.py re-creates it), and the method's prompts
     * (xavier_uniform on [L or 1, P, C]). Random draws use torch's default generator (seed it first).
     */
    public static VisionTransformer build(Path file, Map<String, HostTensor> t, OptionalInt heads,
                                          MethodSpec spec, int numClasses) {
        return assemble(backbone(file, t, heads), spec, numClasses);
    }

    /**
     * A model on a loaded backbone. The backbone tensors are shared, not copied, except for full
     * fine-tuning, which trains them and so gets its own copies.
     */
    public static VisionTransformer assemble(Backbone bb, MethodSpec spec, int numClasses) {
        VitConfig cfg = bb.config();
        if (numClasses < 1) throw new IllegalArgumentException("need at least one class, got " + numClasses);
        Map<String, Tensor> params = new LinkedHashMap<>();
        bb.params().forEach((n, p) -> params.put(n, spec.method().equals("full") ? p.detach().clone() : p));
        int C = cfg.dim();
        double hb = 1.0 / Math.sqrt(C);
        params.put("head.weight", uniform(hb, numClasses, C));
        params.put("head.bias", uniform(hb, numClasses));
        TuningMethod method = switch (spec.method()) {
            case "cvpt", "vpt" -> {
                int sets = spec.deep() ? cfg.depth() : 1;
                Tensor p = uniform(Math.sqrt(6.0 / ((double) (spec.prompts() + sets) * C)), sets, spec.prompts(), C);
                yield spec.method().equals("cvpt") ? new Cvpt(p, spec.insert(), spec.promptDropout())
                        : new Vpt(p, spec.promptDropout());
            }
            case "vfpt" -> Vfpt.create(cfg, spec, params);
            case "e2vpt" -> E2vpt.create(cfg, spec, params);
            case "spt" -> Spt.create(cfg, spec, params);
            case "lora", "adapter", "adaptformer", "dyt" -> methodFor(cfg, spec);
            case "linear" -> new LinearProbe();
            case "full" -> new FullFinetune();
            default -> throw new IllegalArgumentException(spec.method());
        };
        // full fine-tuning trains its own fp32 copies of the linears: no bf16 weights for it
        VisionTransformer vit = new VisionTransformer(cfg, params, method,
                spec.method().equals("full") ? Map.of() : bb.lowWeights());
        vit.freeze();
        return vit;
    }

    /** An adapter method (lora, adapter, adaptformer, dyt) from its options; IllegalArgumentException naming a bad flag. */
    public static TuningMethod methodFor(VitConfig cfg, MethodSpec spec) {
        return switch (spec.method()) {
            case "lora" -> Lora.create(cfg, spec);
            case "adapter" -> Adapter.create(cfg, spec);
            case "adaptformer" -> AdaptFormer.create(cfg, spec);
            case "dyt" -> Dyt.create(cfg, spec);
            default -> throw new IllegalArgumentException(spec.method());
        };
    }

    /** U(-bound, bound), drawn as torch does for xavier_uniform_ / nn.Linear (rand*2-1)*bound. */
    private static Tensor uniform(double bound, long... shape) {
        return rand(shape).mul(Tensors.scalar(2)).sub(Tensors.scalar(1)).mul(Tensors.scalar(bound));
    }
}
