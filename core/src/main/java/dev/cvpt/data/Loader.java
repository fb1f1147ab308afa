package dev.cvpt.data;

import dev.cvpt.data.Transforms.Transform;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Batches of a dataset through a transform.
 *
 * <p>A fixed transform (VTAB) is applied once, in parallel, and its uint8 output kept in memory
 * (3·size² bytes per image) when that fits under {@link Options#cacheBytes}; otherwise, and for random
 * transforms, worker threads decode and transform ahead of the consumer ({@link Options#prefetch}
 * batches in flight). Either way every image is decoded once before the first batch, so bad images
 * are reported before training rather than in the middle of it.
 *
 * <p>Deterministic given the seed, whatever the thread count: the order of an epoch comes from
 * (seed, epoch) and each sample's random crop/flip from (seed, epoch, dataset index).
 */
public final class Loader implements AutoCloseable {

    /**
     * @param batchSize  samples per batch
     * @param shuffle    reshuffle every epoch
     * @param dropLast   leave out the last, smaller batch
     * @param seed       seeds shuffling and random transforms
     * @param threads    worker threads
     * @param prefetch   batches prepared ahead of the consumer
     * @param skipBad    leave unreadable images out (counted) instead of stopping with the list
     * @param cacheBytes most memory for a fixed transform's uint8 cache
     */
    public record Options(int batchSize, boolean shuffle, boolean dropLast, long seed, int threads, int prefetch,
                          boolean skipBad, long cacheBytes) {
        public Options {
            if (batchSize <= 0) throw new IllegalArgumentException("batch size must be positive");
            if (threads <= 0) throw new IllegalArgumentException("threads must be positive");
            prefetch = Math.max(prefetch, 1);
        }

        /** Training defaults of the official code: batch 32, shuffle, drop_last. */
        public static Options train(long seed, int threads) {
            return new Options(32, true, true, seed, threads, 2 * threads + 2, false, defaultCacheBytes());
        }

        public static Options eval(int batchSize, int threads) {
            return new Options(batchSize, false, false, 0, threads, 2 * threads + 2, false, defaultCacheBytes());
        }

        public Options withSkipBad(boolean s) { return new Options(batchSize, shuffle, dropLast, seed, threads, prefetch, s, cacheBytes); }

        public Options withCacheBytes(long b) { return new Options(batchSize, shuffle, dropLast, seed, threads, prefetch, skipBad, b); }

        public Options withBatchSize(int b) { return new Options(b, shuffle, dropLast, seed, threads, prefetch, skipBad, cacheBytes); }

        static long defaultCacheBytes() { return Runtime.getRuntime().maxMemory() / 2; }
    }

    private final Dataset dataset;
    private final Transform transform;
    private final Options opt;
    private final ExecutorService pool;
    private final byte[][] cache; // null when images are transformed on the fly
    private final int imageFloats;

    private Loader(Dataset dataset, Transform transform, Options opt, ExecutorService pool, byte[][] cache) {
        this.dataset = dataset;
        this.transform = transform;
        this.opt = opt;
        this.pool = pool;
        this.cache = cache;
        this.imageFloats = 3 * transform.size() * transform.size();
    }

    /**
     * Decodes every image once (keeping the transformed bytes for a fixed transform that fits the
     * cache). Unreadable images stop here with a {@link DataException} listing all of them, unless
     * {@code skipBad}, when they are left out and counted in {@link #dataset()}.
     */
    public static Loader create(Dataset dataset, Transform transform, Options opt) {
        AtomicInteger n = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(opt.threads(), r -> {
            Thread t = new Thread(r, "cvpt-data-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        try {
            long bytes = 3L * transform.size() * transform.size() * dataset.size();
            boolean keep = !transform.random() && bytes <= opt.cacheBytes();
            int count = dataset.size();
            byte[][] out = new byte[count][];
            String[] errors = new String[count];
            List<Future<?>> fs = new ArrayList<>();
            int chunk = Math.max(1, Math.min(64, count / (opt.threads() * 8) + 1));
            for (int start = 0; start < count; start += chunk) {
                int s0 = start, s1 = Math.min(count, start + chunk);
                fs.add(pool.submit(() -> {
                    for (int i = s0; i < s1; i++) {
                        Sample s = dataset.samples().get(i);
                        try {
                            RgbImage im = ImageDecoder.decodeRgb(s.path());
                            if (keep) out[i] = transform.apply(im, null);
                        } catch (ImageDecodeException e) {
                            errors[i] = e.reason() + " (" + s.path() + ")";
                        } catch (RuntimeException e) {
                            errors[i] = "cannot decode " + s.path() + ": " + e;
                        }
                    }
                }));
            }
            for (Future<?> f : fs) get(f);
            DatasetProblems problems = new DatasetProblems();
            List<Sample> kept = new ArrayList<>();
            List<byte[]> keptBytes = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                if (errors[i] != null) problems.add(dataset.samples().get(i).source(), errors[i]);
                else {
                    kept.add(dataset.samples().get(i));
                    keptBytes.add(out[i]);
                }
            }
            Dataset ds = dataset;
            if (!problems.isEmpty()) {
                if (!opt.skipBad()) problems.throwIfAny("dataset " + dataset.name() + " (" + dataset.split() + ") has unreadable images");
                ds = dataset.withSamples(kept, problems.list());
                if (kept.isEmpty()) throw new DataException("dataset " + dataset.name() + " (" + dataset.split() + ") is empty: no readable images", problems.list());
            }
            return new Loader(ds, transform, opt, pool, keep ? keptBytes.toArray(new byte[0][]) : null);
        } catch (RuntimeException e) {
            pool.shutdownNow();
            throw e;
        }
    }

    /** The dataset as loaded (bad images left out when skipBad). */
    public Dataset dataset() { return dataset; }

    public Transform transform() { return transform; }

    /** True when the transformed images are held in memory. */
    public boolean cached() { return cache != null; }

    public int batchesPerEpoch() {
        int n = dataset.size(), b = opt.batchSize();
        return opt.dropLast() ? n / b : (n + b - 1) / b;
    }

    /** The sample order of an epoch: a permutation from (seed, epoch) when shuffling. */
    public int[] order(int epoch) {
        int n = dataset.size();
        int[] idx = new int[n];
        for (int i = 0; i < n; i++) idx[i] = i;
        if (opt.shuffle()) {
            Random r = new Random(mix(opt.seed(), epoch, -1));
            for (int i = n - 1; i > 0; i--) {
                int j = r.nextInt(i + 1), t = idx[i];
                idx[i] = idx[j];
                idx[j] = t;
            }
        }
        return idx;
    }

    /** The RNG of one sample's random transform in one epoch. */
    public Random sampleRng(int epoch, int index) { return new Random(mix(opt.seed(), epoch, index)); }

    private static long mix(long seed, long epoch, long index) {
        long z = seed * 0x9E3779B97F4A7C15L + epoch * 0xBF58476D1CE4E5B9L + index * 0x94D049BB133111EBL + 0x2545F4914F6CDD1DL;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** The batches of one epoch, prepared ahead on the worker threads. Close it to stop early. */
    public Epoch epoch(int epoch) { return new Epoch(epoch); }

    public final class Epoch implements Iterator<Batch>, Iterable<Batch>, AutoCloseable {
        private final int epoch;
        private final int[] order;
        private final int batches;
        private final ArrayDeque<Future<Batch>> inFlight = new ArrayDeque<>();
        private int submitted, taken;

        private Epoch(int epoch) {
            this.epoch = epoch;
            this.order = order(epoch);
            this.batches = batchesPerEpoch();
            fill();
        }

        private void fill() {
            while (submitted < batches && inFlight.size() < opt.prefetch()) {
                int b = submitted++;
                inFlight.add(pool.submit(() -> build(epoch, order, b)));
            }
        }

        @Override public boolean hasNext() { return taken < batches; }

        @Override public Batch next() {
            if (!hasNext()) throw new NoSuchElementException();
            Future<Batch> f = inFlight.poll();
            taken++;
            Batch b = get(f);
            fill();
            return b;
        }

        @Override public Iterator<Batch> iterator() { return this; }

        @Override public void close() {
            for (Future<Batch> f : inFlight) f.cancel(true);
            inFlight.clear();
            taken = batches;
        }
    }

    private Batch build(int epoch, int[] order, int b) {
        int from = b * opt.batchSize(), to = Math.min(order.length, from + opt.batchSize()), n = to - from;
        float[] images = new float[n * imageFloats];
        long[] labels = new long[n];
        int[] indices = new int[n];
        for (int k = 0; k < n; k++) {
            int i = order[from + k];
            Sample s = dataset.samples().get(i);
            byte[] chw = cache != null ? cache[i]
                    : transform.apply(ImageDecoder.decodeRgb(s.path()), transform.random() ? sampleRng(epoch, i) : null);
            Transforms.toNormalizedFloats(chw, images, k * imageFloats);
            labels[k] = s.label();
            indices[k] = i;
        }
        return new Batch(images, labels, n, transform.size(), indices);
    }

    private static <T> T get(Future<T> f) {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while loading data", e);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException re) throw re;
            if (c instanceof Error er) throw er;
            throw new IllegalStateException(c);
        }
    }

    @Override public void close() { pool.shutdownNow(); }
}
