package dev.cvpt.model;

import org.bytedeco.pytorch.Tensor;

import static dev.cvpt.model.VisionTransformer.rows;

import java.util.Map;

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
 * CA sees the un-normalised stream and has no drop-path (as the official code).
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

    @Override
    public Tensor block(VisionTransformer vit, int i, Tensor x, boolean training) {
        Tensor p = Prompts.forBatch(tokens, deep() ? i : 0, x.size(0), dropout, training);
        return switch (insert) {
            case 1 -> vit.block(i, x.add(vit.crossAttention(i, x, p)), training);
            case 2 -> {
                Tensor y = vit.residual(i, x, training, k -> vit.attnBranch(i, rows(x, k))
                        .add(vit.crossAttention(i, rows(x, k), rows(p, k))));
                yield vit.residual(i, y, training, k -> vit.mlpBranch(i, rows(y, k)));
            }
            case 3 -> {
                Tensor y = vit.residual(i, x, training, k -> vit.attnBranch(i, rows(x, k)));
                Tensor z = y.add(vit.crossAttention(i, y, p));
                yield vit.residual(i, z, training, k -> vit.mlpBranch(i, rows(z, k)));
            }
            case 4 -> {
                Tensor y = vit.residual(i, x, training, k -> vit.attnBranch(i, rows(x, k)));
                yield vit.residual(i, y, training, k -> vit.mlp(i, vit.norm(i, 2, rows(y, k))
                        .add(vit.crossAttention(i, rows(y, k), rows(p, k)))));
            }
            case 5 -> {
                Tensor y = vit.block(i, x, training);
                yield y.add(vit.crossAttention(i, y, p));
            }
            default -> throw new IllegalStateException();
        };
    }

    @Override
    public Tensor lastBlock(VisionTransformer vit, int i, Tensor x, boolean training) {
        Tensor p = Prompts.forBatch(tokens, deep() ? i : 0, x.size(0), dropout, training);
        return switch (insert) {
            case 1 -> vit.blockCls(i, x.add(vit.crossAttention(i, x, p)), training);
            case 2 -> {
                Tensor x0 = x.narrow(1, 0, 1);
                Tensor y = vit.residual(i, x0, training, k -> vit.attnBranchCls(i, rows(x, k))
                        .add(vit.crossAttention(i, rows(x0, k), rows(p, k))));
                yield vit.residual(i, y, training, k -> vit.mlpBranch(i, rows(y, k)));
            }
            case 3 -> {
                Tensor y = vit.residual(i, x.narrow(1, 0, 1), training, k -> vit.attnBranchCls(i, rows(x, k)));
                Tensor z = y.add(vit.crossAttention(i, y, p));
                yield vit.residual(i, z, training, k -> vit.mlpBranch(i, rows(z, k)));
            }
            case 4 -> {
                Tensor y = vit.residual(i, x.narrow(1, 0, 1), training, k -> vit.attnBranchCls(i, rows(x, k)));
                yield vit.residual(i, y, training, k -> vit.mlp(i, vit.norm(i, 2, rows(y, k))
                        .add(vit.crossAttention(i, rows(y, k), rows(p, k)))));
            }
            case 5 -> {
                Tensor y = vit.blockCls(i, x, training);
                yield y.add(vit.crossAttention(i, y, p));
            }
            default -> throw new IllegalStateException();
        };
    }
}
