package dev.cvpt.train.seg;

import dev.cvpt.engine.DataParallel;
import dev.cvpt.model.seg.SegModel;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.bytedeco.pytorch.global.torch.cat;

/**
 * One segmentation training step's forward and backward, with BatchNorm statistics over the WHOLE batch
 * (the official SyncBN over the global batch) while the backbone still runs split over the cores:
 * <ol>
 *   <li>backbone: {@link DataParallel} chunks, each on its own thread and generator (dropout noise), keep
 *       their autograd graphs (none for head-only: the backbone then runs without gradients);</li>
 *   <li>heads: the chunks' outputs concatenated and detached into leaves; decode + auxiliary heads, BN in
 *       training mode over the whole batch, the loss and its backward on the calling thread: the heads'
 *       gradients and d loss / d outputs;</li>
 *   <li>backbone backward: each chunk back-propagates its slice of d loss / d outputs through its own graph
 *       ({@code Σ_k (out_k · g_k).sum()} whose gradient is exactly g_k); prompt gradients accumulate.</li>
 * </ol>
 * The values equal a single-thread forward/backward of the whole batch up to float rounding (tested).
 */
public final class SegSteps {
    private SegSteps() {}

    /** The total loss and each head's weighted loss. */
    public record Result(double loss, Map<String, Double> losses) {}

    /** Forward in training mode ({@code drop}: the backbone's dropouts; BN always in training mode), loss, backward. */
    public static Result forwardBackward(DataParallel dp, SegModel m, Tensor images, Tensor labels, boolean drop) {
        long b = images.size(0);
        boolean backboneGrad = m.backbone().method().trainsBackbone() || !m.backbone().method().parameters().isEmpty();
        List<List<Tensor>> chunks = dp.map(b, true, (c, start, len) -> {
            List<Tensor> kept = new ArrayList<>();
            try (PointerScope s = new PointerScope()) {
                List<Tensor> f;
                Tensor x = DataParallel.rows(images, start, len);
                if (backboneGrad) f = m.backbone().forward(x, drop);
                else try (NoGradGuard g = new NoGradGuard()) { f = m.backbone().forward(x, drop); }
                for (Tensor t : f) {
                    Tensor k = new Tensor(t);
                    k.retainReference();   // outlives this scope; released by the caller's scope
                    kept.add(k);
                }
            }
            return kept;
        });
        PointerScope outer = PointerScope.getInnerScope();
        for (List<Tensor> l : chunks)
            for (Tensor t : l) {
                if (outer != null) { outer.attach(t); t.releaseReference(); }
            }
        int n = chunks.get(0).size();
        List<Tensor> feats = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            TensorVector parts = new TensorVector();
            for (List<Tensor> l : chunks) parts.push_back(l.get(k).detach());
            Tensor f = chunks.size() == 1 ? chunks.get(0).get(k).detach() : cat(parts, 0);
            feats.add(f.requires_grad_(backboneGrad));
        }
        // the heads run on this thread with its torch threads (1): raising them here made OpenMP's spinning team
        // compete with the idle workers' (4x slower on 2 cores, measured)
        SegModel.Output o = m.headsAndLoss(feats, labels, true);
        o.total().backward();
        if (backboneGrad) {
            dp.map(b, false, (c, start, len) -> {
                try (PointerScope s = new PointerScope()) {
                    Tensor sum = null;
                    List<Tensor> mine = chunks.get(c);
                    for (int k = 0; k < n; k++) {
                        Tensor t = mine.get(k).mul(feats.get(k).grad().narrow(0, start, len)).sum();
                        sum = sum == null ? t : sum.add(t);
                    }
                    sum.backward();
                }
                return Boolean.TRUE;
            });
        }
        Map<String, Double> losses = new LinkedHashMap<>();
        o.losses().forEach((k, v) -> losses.put(k, v.item_double()));
        return new Result(o.total().item_double(), losses);
    }
}
