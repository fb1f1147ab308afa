package dev.cvpt.train;

import dev.cvpt.data.Batch;
import dev.cvpt.data.Loader;
import dev.cvpt.engine.Tensors;
import dev.cvpt.model.E2vpt;
import dev.cvpt.model.VisionTransformer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.bytedeco.pytorch.global.torch.cross_entropy;

/**
 * E2VPT's pruning arithmetic, as the official src/engine/trainer.py (calculate_importance L359-434,
 * determine_mask_sequence L436-475, what_tokens_to_mask L535-555, what_tokens_pieces_to_mask L500-532;
 * shared/docs/methods/e2vpt.md "Pruning and rewinding"): importance = the mean SIGNED gradient of the
 * masks over the training batches (model in eval mode, an optimizer step after each batch, as the
 * official loop); cumulative counts from 10 %..90 % with a minimum kept; at each count the lowest-scored
 * not-yet-masked tokens (stable: ties keep index order), resp. for every token its lowest-scored pieces.
 */
public final class Pruning {
    public static final int[] PERCENTS = {10, 20, 30, 40, 50, 60, 70, 80, 90};
    public static final int MIN_TOKENS = 1, MIN_PIECES = 4;

    private Pruning() {}

    /** Token scores [P] and piece scores [P][R]. */
    public record Scores(double[] tokens, double[][] pieces) {}

    /**
     * calculate_importance: for every batch, eval-mode forward, mean cross-entropy, backward, {@code opt.step(lr)},
     * then add the masks' gradients; divided by the number of batches.
     */
    public static Scores importance(VisionTransformer vit, Loader train, Optimizer opt, double lr) {
        Tensor tm = vit.param(E2vpt.TOKEN_MASK), pm = vit.param(E2vpt.PIECE_MASK);
        int p = (int) pm.size(0), r = (int) pm.size(1);
        double[] st = new double[p];
        double[][] sp = new double[p][r];
        int batches = 0;
        try (var epoch = train.epoch(0)) {
            for (Batch b : epoch) {
                try (PointerScope scope = new PointerScope()) {
                    opt.zeroGrad();
                    Tensor x = Tensors.fromFloats(b.images(), b.imageShape());
                    Tensor y = Tensors.fromLongs(b.labels(), b.size());
                    cross_entropy(vit.forward(x, false), y).backward();
                    opt.step(lr);
                    float[] gt = Tensors.toFloats(tm.grad()), gp = Tensors.toFloats(pm.grad());
                    for (int i = 0; i < p; i++) {
                        st[i] += gt[i];
                        for (int j = 0; j < r; j++) sp[i][j] += gp[i * r + j];
                    }
                }
                batches++;
            }
        }
        for (int i = 0; i < p; i++) {
            st[i] /= batches;
            for (int j = 0; j < r; j++) sp[i][j] /= batches;
        }
        return new Scores(st, sp);
    }

    /** determine_mask_sequence: cumulative counts for 10..90 % of {@code total}, capped at total − minKeep (then stop), sorted. */
    public static int[] counts(int total, int minKeep) {
        List<Integer> nums = new ArrayList<>();
        for (int pct : PERCENTS) {
            int n = total * pct / 100;
            if (minKeep > 0 && n > total - minKeep) {
                nums.add(total - minKeep);
                break;
            }
            nums.add(n);
        }
        return nums.stream().sorted().mapToInt(Integer::intValue).toArray();
    }

    private static List<Integer> ascending(double[] scores) {
        return IntStream.range(0, scores.length).boxed()
                .sorted(Comparator.comparingDouble((Integer t) -> (float) scores[t])).toList();   // stable; scores compared as float32 like the official accumulators
    }

    /** Cumulative token selections: count → sorted masked token ids. */
    public static Map<Integer, List<Integer>> selectTokens(double[] scores, int[] counts) {
        List<Integer> order = ascending(scores);
        TreeSet<Integer> masked = new TreeSet<>();
        Map<Integer, List<Integer>> out = new LinkedHashMap<>();
        int prev = 0;
        for (int n : counts) {
            int step = n - prev;
            order.stream().filter(t -> !masked.contains(t)).limit(Math.max(0, step)).toList().forEach(masked::add);
            prev = n;
            out.put(n, List.copyOf(masked));
        }
        return out;
    }

    /** Cumulative piece selections: count → (token → sorted masked piece ids); every token gets the same count. */
    public static Map<Integer, Map<Integer, List<Integer>>> selectPieces(double[][] scores, int[] counts) {
        int p = scores.length;
        List<TreeSet<Integer>> masked = new ArrayList<>();
        for (int t = 0; t < p; t++) masked.add(new TreeSet<>());
        Map<Integer, Map<Integer, List<Integer>>> out = new LinkedHashMap<>();
        int prev = 0;
        for (int n : counts) {
            int step = n - prev;
            for (int t = 0; t < p; t++) {
                TreeSet<Integer> m = masked.get(t);
                ascending(scores[t]).stream().filter(j -> !m.contains(j)).limit(Math.max(0, step)).toList().forEach(m::add);
            }
            prev = n;
            Map<Integer, List<Integer>> snap = new TreeMap<>();
            for (int t = 0; t < p; t++) snap.put(t, List.copyOf(masked.get(t)));
            out.put(n, snap);
        }
        return out;
    }

    /** The --masked-tokens value of a selection ("0,4"). */
    public static String tokensOption(List<Integer> ids) {
        return ids.stream().map(String::valueOf).collect(Collectors.joining(","));
    }

    /** The --masked-pieces value of a selection ("0:1,5;1:2,3"). */
    public static String piecesOption(Map<Integer, List<Integer>> sel) {
        return sel.entrySet().stream().map(e -> e.getKey() + ":" + e.getValue().stream().map(String::valueOf)
                .collect(Collectors.joining(","))).collect(Collectors.joining(";"));
    }

}
