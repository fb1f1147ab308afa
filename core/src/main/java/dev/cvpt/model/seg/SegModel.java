package dev.cvpt.model.seg;

import dev.cvpt.engine.DataParallel;
import dev.cvpt.engine.Native;
import dev.cvpt.engine.Tensors;
import dev.cvpt.io.HostTensor;
import dev.cvpt.model.Backbones;
import dev.cvpt.model.VitConfig;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

import static dev.cvpt.engine.Tensors.opt;
import static dev.cvpt.engine.Tensors.scalar;
import static org.bytedeco.pytorch.global.torch.cross_entropy_loss;
import static org.bytedeco.pytorch.global.torch.rand;
import static org.bytedeco.pytorch.global.torch.softmax;
import static org.bytedeco.pytorch.global.torch.zeros;

/**
 * mmseg's EncoderDecoder of the CVPT ADE20K configuration: {@link SegBackbone} → SETR-PUP decode head +
 * SETR-UP auxiliary heads ({@link SetrUpHead}), the training loss (per head: logits resized bilinearly to the
 * label size, cross-entropy with ignore 255 averaged over ALL pixels, × loss weight; summed), and the test
 * path (decode head only; slide inference). Trainables and head state carry the official names, so the
 * official code loads a saved file.
 */
public final class SegModel {
    public static final int IGNORE = 255;

    private final SegSpec spec;
    private final SegBackbone backbone;
    private final SetrUpHead decode;
    private final List<SetrUpHead> aux;

    private SegModel(SegSpec spec, SegBackbone backbone, SetrUpHead decode, List<SetrUpHead> aux) {
        this.spec = spec;
        this.backbone = backbone;
        this.decode = decode;
        this.aux = aux;
    }

    /**
     * Builds the model on a checkpoint's tensors (timm names; any ViT the classifier loads): the position
     * embedding resized to the spec's img_size grid (bilinear, align_corners False), prompts xavier_uniform
     * on [L,P,C], heads with the official init, stored cross-attention weights (if asked) nn.Linear's default
     * U(±1/√C). Random draws use torch's default generator (seed it first).
     */
    public static SegModel build(Path file, Map<String, HostTensor> tensors, OptionalInt heads, SegSpec spec) {
        Native.load();
        return assemble(Backbones.backbone(file, tensors, heads), spec);
    }

    /** The model on loaded backbone tensors (shared, not copied, except the resized pos_embed and for full fine-tuning). */
    public static SegModel assemble(Backbones.Backbone bb, SegSpec spec) {
        Native.load();
        org.bytedeco.pytorch.global.torch.globalContext().setUserEnabledNNPACK(false);   // unsupported here; it only warns
        VitConfig cfg = bb.config();
        int p = cfg.patch();
        for (int i : spec.outIndices())
            if (i < 0 || i >= cfg.depth())
                throw new IllegalArgumentException("out index " + i + " outside the backbone's " + cfg.depth() + " blocks");
        if (spec.imgH() % p != 0 || spec.imgW() % p != 0)
            throw new IllegalArgumentException("img_size " + spec.imgH() + "x" + spec.imgW() + " is not a multiple of the patch " + p);
        Map<String, Tensor> params = new LinkedHashMap<>();
        boolean full = spec.method().equals("full");
        int g0 = cfg.img() / p, gh = spec.imgH() / p, gw = spec.imgW() / p;
        bb.params().forEach((n, t) -> {
            if (n.startsWith("norm.")) return;   // final_norm=False: loaded nowhere
            Tensor v = n.equals("pos_embed") ? SegBackbone.resizePosEmbed(t, g0, g0, gh, gw) : t;
            params.put(n, full || v != t ? v.detach().clone() : v);
        });
        int L = cfg.depth(), C = cfg.dim();
        SegMethod method = switch (spec.method()) {
            case "cvpt", "vpt" -> {
                Tensor tok = rand(new long[]{L, spec.prompts(), C}).mul(scalar(2)).sub(scalar(1))
                        .mul(scalar(Math.sqrt(6.0 / ((double) (spec.prompts() + L) * C))));
                if (spec.method().equals("vpt")) yield new SegVpt(tok, spec.promptDropout());
                SegBackbone tmp = new SegBackbone(cfg, params, null, gh, gw, spec.outIndices(), spec.dropRate());
                List<SegCvpt.Ca> ca = new ArrayList<>();
                double b = 1 / Math.sqrt(C);
                for (int i = 0; i < L; i++) {
                    ca.add(spec.cross() == CrossWeights.SHARED ? tmp.sharedCa(i)
                            : new SegCvpt.Ca(u(b, C, C), u(b, C), u(b, C, C), u(b, C), u(b, C, C), u(b, C), u(b, C, C), u(b, C)));
                }
                yield new SegCvpt(tok, ca, spec.cross(), spec.promptDropout());
            }
            case "head" -> new SegHeadOnly();
            case "full" -> new SegFull();
            default -> throw new IllegalArgumentException(spec.method());
        };
        SegBackbone backbone = new SegBackbone(cfg, params, method, gh, gw, spec.outIndices(), spec.dropRate());
        SetrUpHead dec = new SetrUpHead("decode_head.", spec.decode(), C, spec.numClasses(), false);
        List<SetrUpHead> aux = new ArrayList<>();
        for (int j = 0; j < spec.aux().size(); j++)
            aux.add(new SetrUpHead("auxiliary_head." + j + ".", spec.aux().get(j), C, spec.numClasses(), true));
        SegModel m = new SegModel(spec, backbone, dec, aux);
        m.freeze();
        return m;
    }

    private static Tensor u(double bound, long... shape) {
        return rand(shape).mul(scalar(2)).sub(scalar(1)).mul(scalar(bound));
    }

    public SegSpec spec() { return spec; }

    public SegBackbone backbone() { return backbone; }

    public SetrUpHead decodeHead() { return decode; }

    public List<SetrUpHead> auxHeads() { return aux; }

    /** Every head: decode first, then aux_0, aux_1, ... */
    public Map<String, SetrUpHead> heads() {
        Map<String, SetrUpHead> m = new LinkedHashMap<>();
        m.put("decode", decode);
        for (int j = 0; j < aux.size(); j++) m.put("aux_" + j, aux.get(j));
        return m;
    }

    /** What trains, under official names: the method's tensors (prompts; the whole backbone for full), then every head parameter. */
    public Map<String, Tensor> trainableParameters() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        if (backbone.method().trainsBackbone()) m.putAll(backbone.officialParams());
        m.putAll(backbone.method().parameters());
        for (SetrUpHead h : heads().values()) m.putAll(h.parameters());
        return m;
    }

    /** BatchNorm running statistics and counters of every head. */
    public Map<String, Tensor> buffers() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (SetrUpHead h : heads().values()) m.putAll(h.buffers());
        return m;
    }

    /** What a task file holds: trainables, BN buffers and any stored (frozen, random) cross-attention weights. */
    public Map<String, Tensor> taskTensors() {
        Map<String, Tensor> m = new LinkedHashMap<>(trainableParameters());
        m.putAll(buffers());
        m.putAll(backbone.method().frozen());
        return m;
    }

    /** requires_grad on exactly the trainables. */
    public void freeze() {
        Map<String, Tensor> train = trainableParameters();
        Map<String, Tensor> all = new LinkedHashMap<>();
        backbone.params().forEach((n, t) -> all.put(SegBackbone.officialName(n), t));
        all.putAll(backbone.method().frozen());
        all.putAll(train);
        all.forEach((n, t) -> t.set_requires_grad(train.containsKey(n)));
    }

    // ---------------------------------------------------------------- training

    /** One training forward: backbone outputs, logits and weighted loss per head, and their sum. */
    public record Output(List<Tensor> feats, Map<String, Tensor> logits, Map<String, Tensor> losses, Tensor total) {}

    /** Forward and loss; {@code drop}: the backbone's dropouts on; {@code bnTrain}: BN in training mode. */
    public Output forwardTrain(Tensor images, Tensor labels, boolean drop, boolean bnTrain) {
        return headsAndLoss(backbone.forward(images, drop), labels, bnTrain);
    }

    /** The heads and the loss on given backbone outputs (the whole batch: BN statistics are over it). */
    public Output headsAndLoss(List<Tensor> feats, Tensor labels, boolean bnTrain) {
        Map<String, Tensor> logits = new LinkedHashMap<>(), losses = new LinkedHashMap<>();
        Tensor total = null;
        for (var e : heads().entrySet()) {
            Tensor lg = e.getValue().forward(feats, bnTrain);
            Tensor l = loss(lg, labels).mul(scalar(e.getValue().spec().lossWeight()));
            logits.put(e.getKey(), lg);
            losses.put(e.getKey(), l);
            total = total == null ? l : total.add(l);
        }
        return new Output(feats, logits, losses, total);
    }

    /** mmseg v0.15: logits resized to the label size, CE with ignore 255 per pixel (ignored → 0), mean over ALL B·H·W pixels. */
    public static Tensor loss(Tensor logits, Tensor labels) {
        Tensor r = SegOps.resize(logits, labels.size(1), labels.size(2));
        return cross_entropy_loss(r, labels, opt(null), 0, IGNORE, 0.0).mean();
    }

    // ---------------------------------------------------------------- inference (eval mode: no dropout, BN running stats)

    /**
     * EncoderDecoder.encode_decode: decode head logits resized to the input size. For a side that is not a
     * multiple of the patch the backbone pads it; the logits are resized to the padded size and the padding
     * is cropped off (the content sits top-left), a deliberate difference from the official crash.
     */
    public Tensor encodeDecode(Tensor img) {
        long h = img.size(2), w = img.size(3);
        int p = backbone.config().patch();
        long ph = (h + p - 1) / p * p, pw = (w + p - 1) / p * p;
        Tensor out = SegOps.resize(decode.forward(backbone.forward(img, false), false), ph, pw);
        return ph == h && pw == w ? out : out.narrow(2, 0, h).narrow(3, 0, w);
    }

    /** Slide inference's results: averaged window logits, window count, softmax scores at the output size, argmax. */
    public record Slide(Tensor avgLogits, Tensor count, Tensor scores, Tensor pred) {}

    /** (y1, y2, x1, x2) of every window, row-major, as EncoderDecoder.slide_inference (the last shifted back to the border). */
    public static List<int[]> windows(int h, int w, int cropH, int cropW, int strideH, int strideW) {
        List<int[]> out = new ArrayList<>();
        int nh = Math.max(h - cropH + strideH - 1, 0) / strideH + 1, nw = Math.max(w - cropW + strideW - 1, 0) / strideW + 1;
        for (int i = 0; i < nh; i++)
            for (int j = 0; j < nw; j++) {
                int y2 = Math.min(i * strideH + cropH, h), x2 = Math.min(j * strideW + cropW, w);
                out.add(new int[]{Math.max(y2 - cropH, 0), y2, Math.max(x2 - cropW, 0), x2});
            }
        return out;
    }

    /**
     * mmseg v0.15 slide inference on a normalised image [B,3,H,W]: each window's decode logits summed into
     * a zero canvas, divided by the per-pixel window count (mean of logits), bilinearly resized to (outH, outW)
     * (the original image size; align_corners False), softmax over classes, argmax. No gradients.
     */
    public Slide slide(Tensor img, int cropH, int cropW, int strideH, int strideW, int outH, int outW) {
        return slide(img, cropH, cropW, strideH, strideW, outH, outW, null);
    }

    /** As {@link #slide(Tensor, int, int, int, int, int, int)}, the windows split over the workers of {@code dp} (null: this thread). */
    public Slide slide(Tensor img, int cropH, int cropW, int strideH, int strideW, int outH, int outW, DataParallel dp) {
        try (NoGradGuard g = new NoGradGuard()) {
            long b = img.size(0);
            int h = (int) img.size(2), w = (int) img.size(3);
            Tensor preds = zeros(new long[]{b, spec.numClasses(), h, w});
            Tensor count = zeros(new long[]{b, 1, h, w});
            List<int[]> wins = windows(h, w, cropH, cropW, strideH, strideW);
            // each worker computes its windows' logits; they are added into the canvas in window order on this thread
            List<List<Tensor>> parts = dp == null ? List.of(windowLogits(img, wins, 0, wins.size()))
                    : dp.map(wins.size(), false, (c, start, len) -> {
                        try (NoGradGuard ng = new NoGradGuard()) {
                            return windowLogits(img, wins, (int) start, (int) len);
                        }
                    });
            int at = 0;
            for (List<Tensor> part : parts)
                for (Tensor logits : part) {
                    int[] win = wins.get(at++);
                    try (PointerScope s = new PointerScope()) {
                        preds.narrow(2, win[0], win[1] - win[0]).narrow(3, win[2], win[3] - win[2]).add_(logits);
                        count.narrow(2, win[0], win[1] - win[0]).narrow(3, win[2], win[3] - win[2]).add_(scalar(1));
                    }
                    logits.releaseReference();   // freed now: a window of ADE logits is 150·512·512 floats
                }
            Tensor avg = preds.div(count);
            Tensor scores = softmax(SegOps.resize(avg, outH, outW), 1);
            return new Slide(avg, count, scores, scores.argmax(new org.bytedeco.pytorch.LongOptional(1), false));
        }
    }

    private List<Tensor> windowLogits(Tensor img, List<int[]> wins, int start, int len) {
        List<Tensor> out = new ArrayList<>();
        for (int i = start; i < start + len; i++) {
            int[] win = wins.get(i);
            try (PointerScope s = new PointerScope()) {
                Tensor crop = img.narrow(2, win[0], win[1] - win[0]).narrow(3, win[2], win[3] - win[2]);
                Tensor k = new Tensor(encodeDecode(crop));
                k.retainReference();   // outlives this scope; closed by the caller once added
                out.add(k);
            }
        }
        return out;
    }

    /** All tensors of the model as host copies under official names (debugging, tests). */
    public Map<String, HostTensor> hostState() {
        Map<String, HostTensor> m = new LinkedHashMap<>();
        taskTensors().forEach((n, t) -> m.put(n, Tensors.toHost(t)));
        return Collections.unmodifiableMap(m);
    }
}
