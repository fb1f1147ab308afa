package dev.cvpt.model;

import org.bytedeco.pytorch.Tensor;

import java.util.Map;

import static dev.cvpt.model.VisionTransformer.rows;

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
        return switch (insert) {
            case 1 -> new BlockHooks() {
                @Override public Tensor enter(Tensor x) { return x.add(vit.crossAttention(i, x, p)); }
            };
            case 2 -> new BlockHooks() {
                @Override public Tensor attnBranch(Tensor x, Tensor a, Tensor idx) {
                    return a.add(vit.crossAttention(i, x, rows(p, idx)));
                }
            };
            case 3 -> new BlockHooks() {
                @Override public Tensor afterAttention(Tensor y) { return y.add(vit.crossAttention(i, y, p)); }
            };
            case 4 -> new BlockHooks() {
                @Override public Tensor mlpBranch(Block block, Tensor y, Tensor idx) {
                    return block.mlp(block.norm2(y).add(vit.crossAttention(i, y, rows(p, idx))));
                }
            };
            case 5 -> new BlockHooks() {
                @Override public Tensor exit(Tensor z) { return z.add(vit.crossAttention(i, z, p)); }
            };
            default -> throw new IllegalStateException();
        };
    }
}
