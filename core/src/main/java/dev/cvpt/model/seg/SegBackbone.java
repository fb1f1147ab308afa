package dev.cvpt.model.seg;

import dev.cvpt.engine.Attention;
import dev.cvpt.engine.Scopes;
import dev.cvpt.model.VitConfig;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.cvpt.engine.Linear.linear;
import static dev.cvpt.engine.Tensors.opt;
import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.constant_pad_nd;
import static org.bytedeco.pytorch.global.torch.conv2d;
import static org.bytedeco.pytorch.global.torch.gelu;
import static org.bytedeco.pytorch.global.torch.layer_norm;
import static org.bytedeco.pytorch.global.torch.scaled_dot_product_attention;

/**
 * The ViT of the official segmentation drop-in (mmseg v0.15 vit.py + CVPT): frozen timm-named weights,
 * position embedding resized to the {@code img_size} grid at load and again to the input's grid at run time
 * (bilinear, align_corners False, cls entry kept), pre-norm blocks with the method's hook, outputs after the
 * {@code out_indices} blocks as [B, C, H/p, W/p] (cls dropped, no final norm). In training, drop_rate noise
 * after the position embedding, on the attention projection and on both FFN dropouts.
 *
 * <p>Deliberate difference: an input side that is not a multiple of the patch is padded with 0 at the
 * bottom/right to the next multiple (as mmseg's PatchEmbed does) and the grid is the padded one; the
 * official code then crashes in a reshape that floors (docs/SEGMENTATION.md).
 */
public final class SegBackbone {
    private final VitConfig cfg;
    private final Map<String, Tensor> params;   // timm names; pos_embed already on the img_size grid
    private final SegMethod method;
    private final int gridH, gridW;
    private final List<Integer> outIndices;
    private final double dropRate;

    SegBackbone(VitConfig cfg, Map<String, Tensor> params, SegMethod method, int gridH, int gridW,
                List<Integer> outIndices, double dropRate) {
        this.cfg = cfg;
        this.params = params;
        this.method = method;
        this.gridH = gridH;
        this.gridW = gridW;
        this.outIndices = List.copyOf(outIndices);
        this.dropRate = dropRate;
    }

    public VitConfig config() { return cfg; }

    public SegMethod method() { return method; }

    public double dropRate() { return dropRate; }

    public Map<String, Tensor> params() { return Collections.unmodifiableMap(params); }

    public Tensor param(String n) {
        Tensor t = params.get(n);
        if (t == null) throw new IllegalArgumentException("no backbone parameter " + n);
        return t;
    }

    public int gridH() { return gridH; }

    public int gridW() { return gridW; }

    /**
     * mmseg's resize_pos_embed: the cls entry kept, the last h0·w0 entries reshaped row-major to the
     * (h0, w0) grid and bilinearly resized (align_corners False) to (h1, w1).
     */
    public static Tensor resizePosEmbed(Tensor pos, int h0, int w0, int h1, int w1) {
        if (h0 == h1 && w0 == w1) return pos;
        long c = pos.size(2);
        Tensor g = pos.narrow(1, pos.size(1) - (long) h0 * w0, (long) h0 * w0).reshape(1, h0, w0, c).permute(0, 3, 1, 2);
        g = SegOps.resize(g, h1, w1);
        return cat(new TensorVector(pos.narrow(1, 0, 1), g.flatten(2, -1).transpose(1, 2)), 1);
    }

    /** The backbone outputs, one [B, C, h, w] per out index, h = ceil(H/p). {@code drop}: training noise. */
    public List<Tensor> forward(Tensor images, boolean drop) {
        int p = cfg.patch();
        long b = images.size(0), hh = images.size(2), ww = images.size(3);
        long gh = (hh + p - 1) / p, gw = (ww + p - 1) / p;
        Tensor img = gh * p == hh && gw * p == ww ? images : constant_pad_nd(images, 0, gw * p - ww, 0, gh * p - hh);
        Tensor x = Scopes.keep(() -> {
            Tensor t = conv2d(img, param("patch_embed.proj.weight"), opt(param("patch_embed.proj.bias")),
                    new long[]{p, p}, new long[]{0, 0}, new long[]{1, 1}, 1).flatten(2, -1).transpose(1, 2);
            t = cat(new TensorVector(param("cls_token").expand(b, -1, -1), t), 1);
            Tensor pos = resizePosEmbed(param("pos_embed"), gridH, gridW, (int) gh, (int) gw);
            return SegOps.dropout(t.add(pos), dropRate, drop);
        });
        List<Tensor> outs = new ArrayList<>();
        for (int i = 0; i < cfg.depth(); i++) {
            Tensor in = x;
            int blk = i;
            x = Scopes.keep(() -> method.block(this, blk, in, drop));
            if (outIndices.contains(i)) {
                Tensor xi = x;
                outs.add(Scopes.keep(() -> method.patchTokens(xi, gh * gw).reshape(b, gh, gw, cfg.dim()).permute(0, 3, 1, 2)));
            }
        }
        return outs;
    }

    /** {@code x + proj_drop(attn(ln1 x))}. */
    public Tensor attnResidual(int i, Tensor x, boolean drop) {
        return x.add(SegOps.dropout(selfAttention(i, norm(i, 1, x)), dropRate, drop));
    }

    /** {@code x + drop(fc2(drop(gelu(fc1(ln2 x)))))} (mmcv FFN). */
    public Tensor mlpResidual(int i, Tensor x, boolean drop) {
        String n = "blocks." + i + ".mlp.";
        Tensor h = SegOps.dropout(gelu(linear(norm(i, 2, x), param(n + "fc1.weight"), param(n + "fc1.bias"))), dropRate, drop);
        return x.add(SegOps.dropout(linear(h, param(n + "fc2.weight"), param(n + "fc2.bias")), dropRate, drop));
    }

    public Tensor norm(int i, int which, Tensor x) {
        String n = "blocks." + i + ".norm" + which;
        return layer_norm(x, new long[]{cfg.dim()}, opt(param(n + ".weight")), opt(param(n + ".bias")),
                VitConfig.LAYER_NORM_EPS, false);
    }

    public Tensor selfAttention(int i, Tensor x) {
        long b = x.size(0), n = x.size(1);
        int c = cfg.dim(), h = cfg.heads(), d = cfg.headDim();
        String a = "blocks." + i + ".attn.";
        Tensor packed = linear(x, param(a + "qkv.weight"), param(a + "qkv.bias"));
        Tensor o = Attention.selfAttention(packed, h);   // our kernel where it applies ([B, N, C]), else libtorch's
        if (o == null) {
            Tensor qkv = packed.view(b, n, 3, h, d).permute(2, 0, 3, 1, 4);
            o = scaled_dot_product_attention(qkv.select(0, 0), qkv.select(0, 1), qkv.select(0, 2)).transpose(1, 2).reshape(b, n, c);
        }
        return linear(o, param(a + "proj.weight"), param(a + "proj.bias"));
    }

    /** The shared cross-attention weights of block i: views into its qkv and proj. */
    SegCvpt.Ca sharedCa(int i) {
        String a = "blocks." + i + ".attn.";
        Tensor w = param(a + "qkv.weight"), bias = param(a + "qkv.bias");
        int c = cfg.dim();
        return new SegCvpt.Ca(w.narrow(0, 0, c), bias.narrow(0, 0, c), w.narrow(0, c, c), bias.narrow(0, c, c),
                w.narrow(0, 2L * c, c), bias.narrow(0, 2L * c, c), param(a + "proj.weight"), param(a + "proj.bias"));
    }

    /** Official mmseg name of a backbone tensor (timm → mmseg, the inverse of mmseg's vit_convert). */
    public static String officialName(String timm) {
        String t = timm;
        if (t.startsWith("patch_embed.proj")) t = t.replace("patch_embed.proj", "patch_embed.projection");
        else if (t.startsWith("blocks.")) {
            t = "layers." + t.substring(7);
            String[][] map = {{".norm1.", ".ln1."}, {".norm2.", ".ln2."}, {".attn.qkv.weight", ".attn.attn.in_proj_weight"},
                    {".attn.qkv.bias", ".attn.attn.in_proj_bias"}, {".attn.proj.", ".attn.attn.out_proj."},
                    {".mlp.fc1.", ".ffn.layers.0.0."}, {".mlp.fc2.", ".ffn.layers.1."}};
            for (String[] m : map) t = t.replace(m[0], m[1]);
        }
        return "backbone." + t;
    }

    /** Backbone tensors under the official names (full fine-tuning's task file). */
    public Map<String, Tensor> officialParams() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        params.forEach((n, t) -> { if (!n.startsWith("norm.")) m.put(officialName(n), t); });
        return m;
    }
}
