package dev.cvpt.model;

import dev.cvpt.engine.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

import static org.bytedeco.pytorch.global.torch.rand;

/**
 * SPT's prompt initialisation from prototypes of the downstream tokens (official train.py
 * prompt_generator L99-203, utils.py RepCatcher; shared/docs/methods/spt.md section 2), offered to
 * every method with a {@link TuningMethod#prototypeTarget()} ({@code --prompt-init}).
 * <ul>
 *   <li>Token sets of the frozen, unprompted model in eval mode: layer 0 = the patch embedding
 *   (no position embedding, no class token); layer i ≥ 1 = the output of block i−1 without the class token.</li>
 *   <li>Candidates per layer: {@code random} and {@code kmeans}: all B·N tokens, row b·N+n;
 *   {@code mean_pooling} / {@code max_pooling}: P windows over the N patches ({@link #windows}) pooled
 *   per image, row p·B+b.</li>
 *   <li>Selection: P rows, {@code argsort(torch.rand(rows))[:P]} per layer (official), or given.
 *   {@code kmeans} (not official; the doc's deterministic variant): Lloyd in double, initial centres
 *   the first P candidates, {@code iters} iterations, ties to the lowest centre, an empty cluster
 *   keeps its centre.</li>
 * </ul>
 * Images go through the model in chunks (per-image tokens do not interact: same result as the
 * official single batch). Pooling and random keep only the selected rows; k-means keeps every token
 * of a layer (B·N·C doubles).
 */
public final class Prototypes {
    public static final List<String> STRATEGIES = List.of("mean_pooling", "max_pooling", "random", "kmeans");

    private Prototypes() {}

    /** A valid --prompt-init value: uniform (the method's own init) or a strategy; returns it normalised. */
    public static String checkName(String strategy) {
        String s = strategy.toLowerCase(Locale.ROOT).replace('-', '_');
        if (!s.equals("uniform") && !STRATEGIES.contains(s))
            throw new IllegalArgumentException("--prompt-init must be uniform, " + String.join(", ", STRATEGIES) + "; got '" + strategy + "'");
        return s;
    }

    public static String check(String strategy, int prompts, int patches) {
        String s = checkName(strategy);
        if (s.equals("uniform")) throw new IllegalArgumentException("--prompt-init uniform has no prototypes");
        if (s.endsWith("pooling") && (prompts < 2 || patches / (prompts - 1) == 0))
            throw new IllegalArgumentException("--prompt-init " + s + " needs 2 <= prompts <= patches + 1 (" + patches
                    + " patches), got " + prompts + " prompts (the official code divides by zero)");
        return s;
    }

    /** The official pooling windows [start, end): w = N/(P−1), r = N mod w; the last is the last r tokens, or all N when r = 0. */
    public static int[][] windows(int n, int p) {
        int w = n / (p - 1), r = n % w;
        int[][] out = new int[p][];
        for (int i = 0; i < p - 1; i++) out[i] = new int[]{i * w, (i + 1) * w};
        out[p - 1] = new int[]{r == 0 ? 0 : n - r, n};
        return out;
    }

    /** The official selection: the P smallest of {@code rows} uniform draws (torch's default generator), in ascending order of the draws. */
    public static long[] officialSelection(long rows, int p) {
        float[] u = Tensors.toFloats(rand(rows));
        Integer[] idx = new Integer[u.length];
        for (int i = 0; i < idx.length; i++) idx[i] = i;
        Arrays.sort(idx, (a, b) -> Float.compare(u[a], u[b]));
        long[] out = new long[p];
        for (int i = 0; i < p; i++) out[i] = idx[i];
        return out;
    }

    /**
     * The prototype init [layers, P, C] (float32).
     *
     * @param chunks    the prototype images [b,3,H,W] in chunks, in order (B in total)
     * @param total     B, the number of prototype images
     * @param layers    L for deep prompts, 1 for shallow
     * @param selection per layer the P candidate rows; null: drawn as the official code ({@link #officialSelection}),
     *                  layer after layer, before any image is read. Unused for kmeans.
     */
    public static Tensor compute(VisionTransformer vit, Iterable<Tensor> chunks, int total, String strategy, int prompts,
                                 int layers, long[][] selection, int kmeansIters) {
        VitConfig cfg = vit.config();
        int n = cfg.tokens() - 1, c = cfg.dim(), p = prompts;
        String s = check(strategy, p, n);
        boolean pooling = s.endsWith("pooling"), kmeans = s.equals("kmeans");
        long rows = pooling ? (long) p * total : (long) total * n;
        if (!kmeans && selection == null) {
            selection = new long[layers][];
            for (int l = 0; l < layers; l++) selection[l] = officialSelection(rows, p);
        }
        if (!kmeans && rows < p)
            throw new IllegalArgumentException("--prompt-init " + s + ": " + rows + " candidate tokens are fewer than " + p + " prompts");
        int[][] win = pooling ? windows(n, p) : null;
        float[][] out = new float[layers][p * c];
        double[][] all = kmeans ? new double[layers][(int) Math.min(Integer.MAX_VALUE, rows * c)] : null;
        int seen = 0;
        try (NoGradGuard g = new NoGradGuard()) {
            for (Tensor chunk : chunks) {
                int b = (int) chunk.size(0);
                try (PointerScope scope = new PointerScope()) {
                    List<float[]> reps = tokenSets(vit, chunk, layers);
                    for (int l = 0; l < layers; l++) {
                        float[] r = reps.get(l);                                   // [b, N, C]
                        if (kmeans) {
                            for (int i = 0; i < r.length; i++) all[l][seen * n * c + i] = r[i];
                            continue;
                        }
                        for (int j = 0; j < p; j++) {
                            long row = selection[l][j];
                            int img = (int) (pooling ? row % total : row / n);
                            if (img < seen || img >= seen + b) continue;
                            int bi = img - seen;
                            if (pooling) pool(r, bi, n, c, win[(int) (row / total)], s.equals("max_pooling"), out[l], j * c);
                            else System.arraycopy(r, (bi * n + (int) (row % n)) * c, out[l], j * c, c);
                        }
                    }
                }
                seen += b;
            }
        }
        if (seen != total) throw new IllegalStateException("expected " + total + " prototype images, got " + seen);
        if (kmeans) for (int l = 0; l < layers; l++) out[l] = kmeans(all[l], (int) rows, c, p, kmeansIters);
        float[] flat = new float[layers * p * c];
        for (int l = 0; l < layers; l++) System.arraycopy(out[l], 0, flat, l * p * c, p * c);
        return Tensors.fromFloats(flat, layers, p, c);
    }

    /** Token sets of layers 0..layers−1 for a chunk of images, each [b·N·C] on the host. */
    public static List<float[]> tokenSets(VisionTransformer vit, Tensor images, int layers) {
        List<float[]> reps = new ArrayList<>();
        Tensor t = vit.patchTokens(images);
        reps.add(Tensors.toFloats(t));
        if (layers > 1) {
            Tensor x = vit.embed(images);
            for (int i = 0; i < layers - 1; i++) {
                x = vit.block(i, x, false);
                reps.add(Tensors.toFloats(x.narrow(1, 1, x.size(1) - 1)));
            }
        }
        return reps;
    }

    private static void pool(float[] r, int bi, int n, int c, int[] w, boolean max, float[] out, int at) {
        for (int ch = 0; ch < c; ch++) {
            double acc = max ? Double.NEGATIVE_INFINITY : 0;
            for (int t = w[0]; t < w[1]; t++) {
                float v = r[(bi * n + t) * c + ch];
                acc = max ? Math.max(acc, v) : acc + v;
            }
            out[at + ch] = (float) (max ? acc : acc / (w[1] - w[0]));
        }
    }

    /** Deterministic Lloyd (the doc's k-means): centres = first k rows, iters rounds, ties → lowest index, empty cluster kept. */
    static float[] kmeans(double[] x, int rows, int c, int k, int iters) {
        if (rows < k) throw new IllegalArgumentException("--prompt-init kmeans: " + rows + " tokens are fewer than " + k + " prompts");
        double[] cent = Arrays.copyOf(x, k * c);
        int[] assign = new int[rows];
        for (int it = 0; it < iters; it++) {
            for (int r = 0; r < rows; r++) {
                double best = Double.POSITIVE_INFINITY;
                int arg = 0;
                for (int j = 0; j < k; j++) {
                    double d = 0;
                    for (int ch = 0; ch < c; ch++) {
                        double e = x[r * c + ch] - cent[j * c + ch];
                        d += e * e;
                    }
                    if (d < best) { best = d; arg = j; }
                }
                assign[r] = arg;
            }
            double[] sum = new double[k * c];
            int[] count = new int[k];
            for (int r = 0; r < rows; r++) {
                count[assign[r]]++;
                for (int ch = 0; ch < c; ch++) sum[assign[r] * c + ch] += x[r * c + ch];
            }
            for (int j = 0; j < k; j++)
                if (count[j] > 0) for (int ch = 0; ch < c; ch++) cent[j * c + ch] = sum[j * c + ch] / count[j];
        }
        float[] out = new float[k * c];
        for (int i = 0; i < out.length; i++) out[i] = (float) cent[i];
        return out;
    }
}
