package dev.cvpt.model;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.zeros;

/**
 * One inference forward over a batch whose rows belong to several tasks on the same frozen backbone
 * (cross-task batching). The frozen parts run once over all rows (patch embedding, the qkv, proj,
 * fc1 and fc2 GEMMs, the norms, the self-attention); a composite {@link BlockHooks} applies each
 * task's own hooks to its own rows (narrow the rows, apply, concatenate), then each task's head
 * reads its rows. Nothing here knows a method: any {@link TuningMethod} works through its hooks.
 *
 * <p>Rules of the composite, hook by hook: {@code enter}, {@code attnBranch}, {@code afterAttention},
 * {@code exit} and {@code beforeBlocks} go per group, and when every group returns its input
 * unchanged (the same tensor) the whole batch passes through without a copy. {@code linearDelta}:
 * null when every group's is null, else each group's delta (zeros for groups without one)
 * concatenated. {@code attentionPrefix}: null when every group's is null, else every group must give
 * one of the same length (expanded to its rows and concatenated). {@code mlpBranch}: when no group
 * overrides it, one MLP over all rows (with the composite's deltas); else per group. A hook that no
 * group's class overrides (found once per class by reflection) is not called per group at all.
 *
 * <p>Batched hooks: when every group's block hooks are {@link BlockHooks#batchable} with one key
 * (CVPT tasks of one insert and prompt count) or do nothing at all (the linear probe), the first
 * one's {@link BlockHooks.Batchable#merge} makes one hook for every row (CVPT: one cross-attention
 * with each row's task's folded prompts gathered), so a mixed batch runs the ops of a one-task
 * forward instead of narrow, apply and concatenate per group and block. Any other mix goes per group.
 *
 * <p>Rows of one tensor must have the same token count and attention-prefix length in every
 * block, so tasks can share a forward only when their {@link #signature}s are equal (VPT with 10
 * prompts and CVPT, for example, cannot); {@link #forward} checks it. Tasks with their own
 * backbone copy (full fine-tuning) have a signature of their own too.
 */
public final class TaskGroups {
    private TaskGroups() {}

    /** {@code rows} consecutive rows of the batch belong to task model {@code model}. */
    public record Group(VisionTransformer model, int rows) {}

    /**
     * What must be equal for tasks to share one forward: the backbone tensors' storage, and per
     * block the token count and prompt-prefix length. Runs one forward of a black image (which also
     * fills the model's prompt cache when it is on).
     */
    public static String signature(VisionTransformer model) {
        VitConfig c = model.config();
        StringBuilder trace = new StringBuilder();
        try (org.bytedeco.javacpp.PointerScope s = new org.bytedeco.javacpp.PointerScope();
             org.bytedeco.pytorch.NoGradGuard g = new org.bytedeco.pytorch.NoGradGuard()) {
            forward(List.of(new Group(model, 1)), zeros(1, 3, c.img(), c.img()), trace);
        }
        return "backbone@" + Long.toHexString(model.param("blocks.0.attn.qkv.weight").data_ptr().address())
                + (model.method().unfusedAttention() ? " unfused" : "") + trace;
    }

    /** Logits of each group ([rows, classes of that task]), in group order. Eval mode, no autograd. */
    public static List<Tensor> forward(List<Group> groups, Tensor images) {
        return forward(groups, images, null);
    }

    private static List<Tensor> forward(List<Group> groups, Tensor images, StringBuilder trace) {
        if (groups.isEmpty()) throw new IllegalArgumentException("no groups");
        long total = groups.stream().mapToLong(Group::rows).sum();
        if (total != images.size(0)) throw new IllegalArgumentException("groups hold " + total + " rows, the batch " + images.size(0));
        VisionTransformer first = groups.get(0).model();
        VisionTransformer vit = groups.size() == 1 && trace == null ? first
                : new VisionTransformer(first.config(), first.namedParameters(), new Composite(groups, trace), first.lowWeights());
        Tensor feat = vit.features(images, false, null);
        List<Tensor> out = new ArrayList<>(groups.size());
        long off = 0;
        for (Group g : groups) {
            out.add(g.model().head(feat.narrow(0, off, g.rows())));
            off += g.rows();
        }
        return out;
    }

    /** The tuning method of a mixed batch: each group's method on its rows. */
    private record Composite(List<Group> groups, StringBuilder trace) implements TuningMethod {
        @Override public String name() { return "task-groups"; }

        @Override public Map<String, Tensor> parameters() { return Map.of(); }

        @Override public boolean clsOnlyLastBlock() {
            // a method that wants every row of the last block gets it; the others lose nothing (same cls row)
            return groups.stream().allMatch(g -> g.model().method().clsOnlyLastBlock());
        }

        /** Equal across the groups: it is part of the {@link #signature}. */
        @Override public boolean unfusedAttention() { return groups.get(0).model().method().unfusedAttention(); }

        @Override
        public Tensor inputImages(Tensor images) {
            return !anyOverrides(groups.stream().map(g -> g.model().method()).toList(), "inputImages") ? images
                    : perGroup(images, (g, xs) -> g.model().method().inputImages(xs));
        }

        @Override
        public Tensor beforeBlocks(VisionTransformer vit, Tensor x, boolean training) {
            Tensor out = !anyOverrides(groups.stream().map(g -> g.model().method()).toList(), "beforeBlocks") ? x : perGroup(x, (g, xs) -> g.model().method().beforeBlocks(g.model(), xs, training));
            if (trace != null) trace.append(" in:").append(out.size(1));
            return out;
        }

        @Override
        public BlockHooks blockHooks(VisionTransformer vit, int i, long batch, boolean training) {
            List<BlockHooks> hooks = new ArrayList<>(groups.size());
            for (Group g : groups) hooks.add(g.model().method().blockHooks(g.model(), i, g.rows(), training));
            BlockHooks merged = training ? null : merged(hooks);
            return merged != null ? merged : new Hooks(this, hooks, i);
        }

        /**
         * One hook over every row when the groups' hooks allow it: each is {@link BlockHooks#batchable}
         * with one key, or does nothing (overrides no hook); null otherwise (then per group).
         */
        private BlockHooks merged(List<BlockHooks> hooks) {
            if (hooks.size() < 2) return null;
            List<BlockHooks.Batchable> parts = new ArrayList<>(hooks.size());
            BlockHooks.Batchable first = null;
            for (BlockHooks h : hooks) {
                BlockHooks.Batchable b = h.batchable();
                if (b == null) {
                    if (!OVERRIDDEN.get(h.getClass()).isEmpty()) return null;
                } else if (first == null) {
                    first = b;
                } else if (!first.key().equals(b.key())) {
                    return null;
                }
                parts.add(b);
            }
            if (first == null) return null;
            long[] rows = groups.stream().mapToLong(Group::rows).toArray();
            return first.merge(parts, rows);
        }

        /** f applied to each group's rows of x; x itself when every group returned its rows unchanged. */
        Tensor perGroup(Tensor x, BiFunction<Group, Tensor, Tensor> f) {
            return perGroupIndexed(x, (j, xs) -> f.apply(groups.get(j), xs));
        }

        Tensor perGroupIndexed(Tensor x, BiFunction<Integer, Tensor, Tensor> f) {
            if (groups.size() == 1) return f.apply(0, x);
            TensorVector parts = new TensorVector();
            boolean same = true;
            long off = 0;
            for (int j = 0; j < groups.size(); j++) {
                Tensor xs = x.narrow(0, off, groups.get(j).rows());
                Tensor y = f.apply(j, xs);
                same &= y == xs;
                parts.push_back(y);
                off += groups.get(j).rows();
            }
            return same ? x : cat(parts, 0);
        }
    }

    /** The composite hooks of one block. */
    private record Hooks(Composite c, List<BlockHooks> hooks, int block) implements BlockHooks {
        private List<Group> groups() { return c.groups(); }

        @Override
        public Tensor enter(Tensor x) {
            Tensor out = !anyOverrides(hooks, "enter") ? x : c.perGroupIndexed(x, (j, xs) -> hooks.get(j).enter(xs));
            if (c.trace() != null) c.trace().append(" b").append(block).append(":").append(out.size(1));
            return out;
        }

        @Override
        public KeyValues attentionPrefix(long batch) {
            if (!anyOverrides(hooks, "attentionPrefix")) return null;
            List<KeyValues> kv = new ArrayList<>(hooks.size());
            boolean any = false, all = true;
            for (int j = 0; j < hooks.size(); j++) {
                KeyValues p = hooks.get(j).attentionPrefix(groups().get(j).rows());
                kv.add(p);
                any |= p != null;
                all &= p != null;
            }
            if (c.trace() != null) c.trace().append(any ? "+p" + kv.get(0).keys().size(2) : "");
            if (!any) return null;
            if (hooks.size() == 1) return kv.get(0);
            if (!all) throw new IllegalStateException("block " + block + ": some tasks of the batch add attention keys and others do not (group them apart)");
            long len = kv.get(0).keys().size(2);
            TensorVector keys = new TensorVector(), values = new TensorVector();
            for (int j = 0; j < kv.size(); j++) {
                KeyValues p = kv.get(j);
                if (p.keys().size(2) != len)
                    throw new IllegalStateException("block " + block + ": tasks of the batch add different numbers of attention keys (group them apart)");
                long r = groups().get(j).rows();
                keys.push_back(p.keys().expand(r, -1, -1, -1));
                values.push_back(p.values().expand(r, -1, -1, -1));
            }
            return new KeyValues(cat(keys, 0), cat(values, 0));
        }

        @Override
        public Tensor linearDelta(String name, Tensor x, long from, long count) {
            if (hooks.size() == 1) return hooks.get(0).linearDelta(name, x, from, count);
            if (!anyOverrides(hooks, "linearDelta")) return null;
            List<Tensor> d = new ArrayList<>(hooks.size());
            Tensor some = null;
            long off = 0;
            for (int j = 0; j < hooks.size(); j++) {
                long r = groups().get(j).rows();
                Tensor dj = hooks.get(j).linearDelta(name, x.narrow(0, off, r), from, count);
                d.add(dj);
                if (dj != null) some = dj;
                off += r;
            }
            if (some == null) return null;
            long features = some.size(some.dim() - 1);
            TensorVector parts = new TensorVector();
            off = 0;
            for (int j = 0; j < hooks.size(); j++) {
                long r = groups().get(j).rows();
                long[] shape = x.narrow(0, off, r).shape();
                shape[shape.length - 1] = features;
                Tensor dj = d.get(j);
                parts.push_back(dj == null ? zeros(shape).to(x.scalar_type()) : dj.expand(shape));
                off += r;
            }
            return cat(parts, 0);
        }

        @Override
        public Tensor attnBranch(Tensor x, Tensor a, Tensor idx) {
            if (hooks.size() == 1) return hooks.get(0).attnBranch(x, a, idx);
            if (!anyOverrides(hooks, "attnBranch")) return a;
            requireAllRows(idx);
            long[] off = {0};
            return c.perGroupIndexed(a, (j, as) -> {
                long r = groups().get(j).rows();
                Tensor out = hooks.get(j).attnBranch(x.narrow(0, off[0], r), as, null);
                off[0] += r;
                return out;
            });
        }

        @Override
        public Tensor afterAttention(Tensor y) {
            return !anyOverrides(hooks, "afterAttention") ? y : c.perGroupIndexed(y, (j, ys) -> hooks.get(j).afterAttention(ys));
        }

        @Override
        public Tensor mlpBranch(Block block, Tensor y, Tensor idx) {
            if (hooks.size() == 1) return hooks.get(0).mlpBranch(new Block(groups().get(0).model(), block.index(), hooks.get(0)), y, idx);
            requireAllRows(idx);
            if (!anyOverrides(hooks, "mlpBranch"))
                return block.mlp(block.norm2(y));   // one MLP over every row, with this composite's deltas
            return c.perGroupIndexed(y, (j, ys) ->
                    hooks.get(j).mlpBranch(new Block(groups().get(j).model(), block.index(), hooks.get(j)), ys, null));
        }

        @Override
        public Tensor mlpResidual(Tensor y, Tensor m) {
            if (!anyOverrides(hooks, "mlpResidual")) return y.add(m);
            long[] off = {0};
            return c.perGroupIndexed(y, (j, ys) -> {
                Tensor out = hooks.get(j).mlpResidual(ys, m.narrow(0, off[0], ys.size(0)));
                off[0] += ys.size(0);
                return out;
            });
        }

        @Override
        public Tensor exit(Tensor z) {
            return !anyOverrides(hooks, "exit") ? z : c.perGroupIndexed(z, (j, zs) -> hooks.get(j).exit(zs));
        }

        private static void requireAllRows(Tensor idx) {
            if (idx != null) throw new IllegalStateException("mixed-task batches are for inference (no stochastic depth)");
        }
    }

    /**
     * The {@link BlockHooks} (or {@link TuningMethod}) methods a class overrides: the composite skips
     * the per-group calls of a hook no group overrides (the defaults pass the rows through, return
     * null, or run the plain MLP, which then runs once over every row).
     */
    private static final ClassValue<java.util.Set<String>> OVERRIDDEN = new ClassValue<>() {
        @Override
        protected java.util.Set<String> computeValue(Class<?> type) {
            Class<?> base = BlockHooks.class.isAssignableFrom(type) ? BlockHooks.class : TuningMethod.class;
            java.util.Set<String> out = new java.util.HashSet<>();
            for (java.lang.reflect.Method m : base.getMethods()) {
                if (!m.isDefault()) continue;
                try {
                    if (type.getMethod(m.getName(), m.getParameterTypes()).getDeclaringClass() != base) out.add(m.getName());
                } catch (NoSuchMethodException e) {
                    out.add(m.getName());
                }
            }
            return out;
        }
    };

    static boolean anyOverrides(List<?> objects, String method) {
        for (Object o : objects) if (OVERRIDDEN.get(o.getClass()).contains(method)) return true;
        return false;
    }
}
