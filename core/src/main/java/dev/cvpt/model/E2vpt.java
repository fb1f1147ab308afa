package dev.cvpt.model;

import dev.cvpt.engine.Tensors;
import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.IntFunction;

import static org.bytedeco.pytorch.global.torch.ones;

/**
 * E2VPT (Han et al., ICCV 2023; official github:ChengHan111/E2VPT, MODEL.TRANSFER_TYPE "P_VK":
 * src/models/vit_prompt/vit_prompt_VK.py, src/models/vit_backbones/vit_changeVK.py; see
 * shared/docs/methods/e2vpt.md). Visual prompts after the class token, {@code [CLS, P prompts, N patches]}
 * (deep: slots 1..P replaced before every block i ≥ 1), and key-value prompts: block i's
 * {@code deep_QKV_embeddings} [h,T,d] are the same extra keys and values of its attention, in head space,
 * before the tokens' (official LAYER_BEHIND; appending them is the same math). Visual prompts of every
 * layer: dropout (training) → segment mask (channel c × {@code pieces[:, c mod R]}) → token mask.
 * Masks: {@code none}; {@code trainable} (the pre-pruning stage: ones, trained with SGD and weight decay);
 * {@code fixed} (0/1 constants from a pruning, saved in the task file, not trained). A masked token stays a
 * zero vector in its slot.
 *
 * @param prompt     {@code prompt_embeddings} [1,P,C]
 * @param deepPrompt {@code deep_prompt_embeddings} [L-1,P,C], null when shallow
 * @param kv         per block its {@code blocks.i.attn.deep_QKV_embeddings} [h,T,d], null for a block without
 * @param tokenMask  {@code prompt_soft_tokens_mask_cls_token} [P], null without masks
 * @param pieceMask  {@code prompt_soft_tokens_pieces_mask_cls_token} [P,R], null without masks
 * @param masksTrain whether the masks are trainable (else buffers)
 * @param dropout    visual-prompt dropout in training (official DROPOUT_P 0.1)
 */
public record E2vpt(Tensor prompt, Tensor deepPrompt, Tensor[] kv, Tensor tokenMask, Tensor pieceMask,
                    boolean masksTrain, double dropout, IntFunction<Tensor> noise) implements TuningMethod {
    public static final String PROMPT = "prompt_embeddings", DEEP = "deep_prompt_embeddings",
            TOKEN_MASK = "prompt_soft_tokens_mask_cls_token", PIECE_MASK = "prompt_soft_tokens_pieces_mask_cls_token";

    public static String kvName(int i) { return "blocks." + i + ".attn.deep_QKV_embeddings"; }

    /** The official state-dict name (vit_models.ViT) of one of our names. */
    public static String official(String n) {
        if (n.startsWith("head.")) return "head.last_layer." + n.substring(5);
        if (n.startsWith("blocks.")) return "enc.transformer.encoder.layer." + n.substring(7);
        return "enc.transformer." + n;
    }

    /**
     * A fresh E2VPT with the official init (vit_prompt_VK.py L87-103, vit_changeVK.py L157-173, mlp.py):
     * visual prompts U(±sqrt(6/(3p²+C))), KV prompts kaiming_uniform U(±sqrt(6/(T·d))), masks ones, head N(0, 2/K), bias −log 99.
     * Options: kv-prompts T (5), kv-deep (true: every block; false: block 0), mask none|trainable|fixed,
     * mask-pieces R (16), masked-tokens "0,4", masked-pieces "0:1,5;3:2" (fixed masks).
     */
    public static E2vpt create(VitConfig cfg, MethodSpec spec, Map<String, Tensor> params) {
        int c = cfg.dim(), p = spec.prompts(), h = cfg.heads(), d = cfg.headDim();
        check(p, spec.options());
        int t = spec.intOption("kv-prompts", 5);
        String mode = spec.stringOption("mask", "none").toLowerCase(Locale.ROOT);
        int r = spec.intOption("mask-pieces", 16);
        double v = Math.sqrt(6.0 / (3.0 * cfg.patch() * cfg.patch() + c));
        Tensor prompt = Vfpt.uniform(v, 1, p, c);
        Tensor deep = spec.deep() && cfg.depth() > 1 ? Vfpt.uniform(v, cfg.depth() - 1, p, c) : null;
        Tensor[] kv = new Tensor[cfg.depth()];
        boolean kvDeep = spec.booleanOption("kv-deep", true);
        for (int i = 0; i < kv.length; i++) if (kvDeep || i == 0) kv[i] = Vfpt.uniform(Math.sqrt(6.0 / ((double) t * d)), h, t, d);
        Vfpt.officialHead(params);
        Tensor tm = null, pm = null;
        if (!mode.equals("none")) {
            if (r < 1 || c % r != 0)
                throw new IllegalArgumentException("--mask-pieces must divide the width " + c + " (the official .repeat needs it), got " + r);
            float[] tok = new float[p], pc = new float[p * r];
            Arrays.fill(tok, 1);
            Arrays.fill(pc, 1);
            if (mode.equals("fixed")) {
                List<Integer> masked = parseTokens(spec.stringOption("masked-tokens", ""), p);
                if (masked.size() >= p)
                    throw new IllegalArgumentException("--masked-tokens masks " + masked.size() + " of " + p
                            + " prompts; at least one must stay (official MIN_NUMBER_CLS_TOKEN 1)");
                for (int k : masked) tok[k] = 0;
                parsePieces(spec.stringOption("masked-pieces", ""), p, r).forEach((k, js) -> js.forEach(j -> pc[k * r + j] = 0));
            } else if (!spec.stringOption("masked-tokens", "").isEmpty() || !spec.stringOption("masked-pieces", "").isEmpty()) {
                throw new IllegalArgumentException("--masked-tokens/--masked-pieces need --mask fixed");
            }
            tm = Tensors.fromFloats(tok, p);
            pm = Tensors.fromFloats(pc, p, r);
        }
        return new E2vpt(prompt, deep, kv, tm, pm, mode.equals("trainable"), spec.promptDropout(), null);
    }

    /** The options of a spec are valid for E2VPT with P prompts (MethodSpec calls this). */
    public static void check(int p, Map<String, Object> o) {
        Object t = o.getOrDefault("kv-prompts", 5), r = o.getOrDefault("mask-pieces", 16);
        if (!(t instanceof Integer ti) || ti < 1) throw new IllegalArgumentException("--kv-prompts must be at least 1, got " + t);
        if (!(r instanceof Integer ri) || ri < 1) throw new IllegalArgumentException("--mask-pieces must be at least 1, got " + r);
        String mode = String.valueOf(o.getOrDefault("mask", "none")).toLowerCase(Locale.ROOT);
        if (!mode.matches("none|trainable|fixed"))
            throw new IllegalArgumentException("--mask must be none, trainable or fixed, got '" + mode + "'");
        String tokens = String.valueOf(o.getOrDefault("masked-tokens", "")), pieces = String.valueOf(o.getOrDefault("masked-pieces", ""));
        if (!mode.equals("fixed") && !(tokens.isEmpty() && pieces.isEmpty()))
            throw new IllegalArgumentException("--masked-tokens/--masked-pieces need --mask fixed");
        List<Integer> masked = parseTokens(tokens, p);
        if (masked.size() >= p)
            throw new IllegalArgumentException("--masked-tokens masks " + masked.size() + " tokens but there are " + p
                    + " prompts; at least one must stay (official MIN_NUMBER_CLS_TOKEN 1)");
        parsePieces(pieces, p, ri);
    }

    /** "0,4" → token ids, each in [0, P). */
    public static List<Integer> parseTokens(String s, int p) {
        List<Integer> out = new ArrayList<>();
        if (s.isBlank()) return out;
        for (String x : s.split(",")) {
            int k;
            try {
                k = Integer.parseInt(x.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--masked-tokens: '" + x.trim() + "' is not a token id (expected e.g. 0,4)");
            }
            if (k < 0 || k >= p) throw new IllegalArgumentException("--masked-tokens: token " + k + " is not one of the " + p + " prompts (ids 0.." + (p - 1) + ")");
            if (!out.contains(k)) out.add(k);
        }
        return out;
    }

    /** "0:1,5;3:2" → per token the masked piece ids, each in [0, R). */
    public static Map<Integer, List<Integer>> parsePieces(String s, int p, int r) {
        Map<Integer, List<Integer>> out = new TreeMap<>();
        if (s.isBlank()) return out;
        for (String part : s.split(";")) {
            String[] kv = part.split(":");
            try {
                int k = Integer.parseInt(kv[0].trim());
                if (k < 0 || k >= p) throw new IllegalArgumentException("--masked-pieces: token " + k + " is not one of the " + p + " prompts");
                List<Integer> js = out.computeIfAbsent(k, x -> new ArrayList<>());
                if (kv.length > 1 && !kv[1].isBlank()) for (String j : kv[1].split(",")) {
                    int q = Integer.parseInt(j.trim());
                    if (q < 0 || q >= r) throw new IllegalArgumentException("--masked-pieces: piece " + q + " of token " + k + " is not in [0," + r + ")");
                    js.add(q);
                }
            } catch (NumberFormatException | ArrayIndexOutOfBoundsException e) {
                throw new IllegalArgumentException("--masked-pieces: cannot read '" + part + "' (expected e.g. 0:1,5;3:2)");
            }
        }
        return out;
    }

    public int prompts() { return (int) prompt.size(1); }

    public boolean deep() { return deepPrompt != null; }

    /** This method with the prompt-dropout multipliers of layer i given (the golden cases' injected noise; null: draw them). */
    public E2vpt withNoise(IntFunction<Tensor> n) {
        return new E2vpt(prompt, deepPrompt, kv, tokenMask, pieceMask, masksTrain, dropout, n);
    }

    @Override public String name() { return "e2vpt"; }

    @Override public String officialName(String n) { return official(n); }

    @Override
    public Map<String, Tensor> parameters() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put(PROMPT, prompt);
        if (deepPrompt != null) m.put(DEEP, deepPrompt);
        for (int i = 0; i < kv.length; i++) if (kv[i] != null) m.put(kvName(i), kv[i]);
        if (masksTrain) m.putAll(masks());
        return m;
    }

    @Override public Map<String, Tensor> buffers() { return masksTrain ? Map.of() : masks(); }

    private Map<String, Tensor> masks() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        if (tokenMask != null) {
            m.put(TOKEN_MASK, tokenMask);
            m.put(PIECE_MASK, pieceMask);
        }
        return m;
    }

    /** The visual prompts entering block i: dropout (or the given multipliers) → pieces mask → token mask. */
    Tensor visual(int i, long batch, boolean training) {
        Tensor src = i == 0 ? prompt : deepPrompt.narrow(0, i - 1, 1);          // [1,P,C]
        Tensor p;
        if (noise != null && training) p = src.mul(noise.apply(i));              // [B,P,C]
        else p = Prompts.dropout(src, batch, dropout, training);
        if (tokenMask != null) {
            long c = src.size(2), r = pieceMask.size(1);
            p = p.mul(pieceMask.repeat(1, c / r)).mul(tokenMask.view(-1, 1));
        }
        return p;
    }

    @Override
    public Tensor beforeBlocks(VisionTransformer vit, Tensor x, boolean training) {
        return Prompts.afterCls(x, visual(0, x.size(0), training));
    }

    @Override
    public BlockHooks blockHooks(VisionTransformer vit, int i, long batch, boolean training) {
        Tensor p = i > 0 && deep() ? visual(i, batch, training) : null;
        Tensor e = kv[i] == null ? null : kv[i].unsqueeze(0);                    // [1,h,T,d]
        if (p == null && e == null) return BlockHooks.NONE;
        return new BlockHooks() {
            @Override public Tensor enter(Tensor x) { return p == null ? x : Prompts.replaceAfterCls(x, p); }

            @Override public KeyValues attentionPrefix(long b) { return e == null ? null : new KeyValues(e, e); }
        };
    }
}
