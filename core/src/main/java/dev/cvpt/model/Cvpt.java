package dev.cvpt.model;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;

import java.util.List;
import java.util.Map;

import static dev.cvpt.model.VisionTransformer.rows;
import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.zeros_like;

/**
 * Cross Visual Prompt Tuning. Each block's tokens read the prompts through a cross-attention
 * (CA) that reuses the block's frozen self-attention weights; where CA sits is {@code insert}:
 * <pre>
 * 1: x += CA(x,P); x += dp(attn(norm1 x)); x += dp(mlp(norm2 x))
 * 2: x += dp(attn(norm1 x) + CA(x,P)); x += dp(mlp(norm2 x))
 * 3: x += dp(attn(norm1 x)); x += CA(x,P); x += dp(mlp(norm2 x))
 * 4: x += dp(attn(norm1 x)); x += dp(mlp(norm2 x + CA(x,P)))
 * 5: x += dp(attn(norm1 x)); x += dp(mlp(norm2 x)); x += CA(x,P)
 * </pre>
 * CA sees the un-normalised stream and has no drop-path (as the official code). Each insert is
 * one {@link BlockHooks} point.
 *
 * @param tokens  Prompt_Tokens [L,P,C] (deep) or [1,P,C] (shallow: one set read by every block)
 * @param dropout prompt dropout rate in training (official 0.1)
 */
public record Cvpt(Tensor tokens, int insert, double dropout) implements TuningMethod {
    public Cvpt {
        if (insert < 1 || insert > 5) throw new IllegalArgumentException("insert must be 1..5, got " + insert);
    }

    public boolean deep() { return tokens.size(0) > 1; }

    public int prompts() { return (int) tokens.size(1); }

    @Override public String name() { return "cvpt"; }

    @Override public Map<String, Tensor> parameters() { return Map.of(Prompts.NAME, tokens); }

    @Override public Tensor prototypeTarget() { return tokens; }

    @Override
    public BlockHooks blockHooks(VisionTransformer vit, int i, long batch, boolean training) {
        Tensor p = Prompts.forBatch(tokens, deep() ? i : 0, batch, dropout, training);   // [1 or B,P,C]
        CrossAttention ca = (x, idx) -> vit.crossAttention(i, x, rows(p, idx));
        // one prompt set for every row (eval): a mixed-task batch may gather the sets of all its tasks
        return at(insert, ca, p.size(0) == 1 ? new PromptSet(vit, i, insert, p) : null);
    }

    /** CA(x, P) for the rows x (idx: the rows stochastic depth keeps, null: all). */
    private interface CrossAttention {
        Tensor apply(Tensor x, Tensor idx);
    }

    /** The hooks that add {@code ca} at insert point {@code insert}; {@code batchable}: null or their {@link BlockHooks#batchable}. */
    private static BlockHooks at(int insert, CrossAttention ca, BlockHooks.Batchable batchable) {
        return switch (insert) {
            case 1 -> new BlockHooks() {
                @Override public Tensor enter(Tensor x) { return x.add(ca.apply(x, null)); }
                @Override public Batchable batchable() { return batchable; }
            };
            case 2 -> new BlockHooks() {
                @Override public Tensor attnBranch(Tensor x, Tensor a, Tensor idx) { return a.add(ca.apply(x, idx)); }
                @Override public Batchable batchable() { return batchable; }
            };
            case 3 -> new BlockHooks() {
                @Override public Tensor afterAttention(Tensor y) { return y.add(ca.apply(y, null)); }
                @Override public Batchable batchable() { return batchable; }
            };
            case 4 -> new BlockHooks() {
                @Override public Tensor mlpBranch(Block block, Tensor y, Tensor idx) {
                    return block.mlp(block.norm2(y).add(ca.apply(y, idx)));
                }
                @Override public Batchable batchable() { return batchable; }
            };
            case 5 -> new BlockHooks() {
                @Override public Tensor exit(Tensor z) { return z.add(ca.apply(z, null)); }
                @Override public Batchable batchable() { return batchable; }
            };
            default -> throw new IllegalStateException();
        };
    }

    /**
     * The cross-attention of block {@code block} at insert point {@code insert} with one prompt set
     * [1,P,C]. Merged for a mixed-task batch: each row's task's {@link VisionTransformer.FoldedPrompts}
     * (from the prompt cache when on) are gathered into per-row sets [B,..], so the batch runs one
     * batched cross-attention (the same ops as one task's forward) instead of one per task; rows of
     * groups without hooks get a zero term. The key holds the prompt count: the gathered sets must
     * have the same shape (tasks with other prompt counts go per task).
     */
    private record PromptSet(VisionTransformer vit, int block, int insert, Tensor prompts) implements BlockHooks.Batchable {
        @Override public Object key() { return List.of("cvpt", block, insert, prompts.size(1), vit.config().heads()); }

        @Override
        public BlockHooks merge(List<? extends BlockHooks.Batchable> parts, long[] rows) {
            TensorVector a = new TensorVector(), c = new TensorVector(), vo = new TensorVector();
            VisionTransformer.FoldedPrompts zero = null;
            boolean masked = false;
            float[] mask = new float[parts.size()];
            for (int j = 0; j < parts.size(); j++) {
                PromptSet s = (PromptSet) parts.get(j);
                VisionTransformer.FoldedPrompts f;
                if (s == null) {
                    if (zero == null) {
                        VisionTransformer.FoldedPrompts some = vit.folded(block, prompts);
                        zero = new VisionTransformer.FoldedPrompts(zeros_like(some.a()), zeros_like(some.c()), zeros_like(some.vo()));
                    }
                    f = zero;
                    masked = true;
                } else {
                    f = s.vit().folded(block, s.prompts());
                    mask[j] = 1;
                }
                for (long r = 0; r < rows[j]; r++) {   // the same tensor once per row: no expand op per task (each op costs ~10 µs from Java)
                    a.push_back(f.a());
                    c.push_back(f.c());
                    vo.push_back(f.vo());
                }
            }
            VisionTransformer.FoldedPrompts perRow = new VisionTransformer.FoldedPrompts(cat(a, 0), cat(c, 0), cat(vo, 0));
            Tensor rowMask = masked ? rowMask(mask, rows) : null;
            return at(insert, (x, idx) -> {
                if (idx != null) throw new IllegalStateException("merged prompt sets are for inference (no stochastic depth)");
                Tensor out = vit.crossAttention(block, x, perRow);
                return rowMask == null ? out : out.mul(rowMask.to(out.scalar_type()));   // keep the stream's dtype
            }, null);
        }

        /** [B,1,1]: 1 on the rows of groups with prompts, 0 on the others. */
        private static Tensor rowMask(float[] perGroup, long[] rows) {
            long total = 0;
            for (long r : rows) total += r;
            float[] m = new float[(int) total];
            int off = 0;
            for (int j = 0; j < rows.length; j++) for (long r = 0; r < rows[j]; r++) m[off++] = perGroup[j];
            return dev.cvpt.engine.Tensors.fromFloats(m, total, 1, 1);
        }
    }
}
