package dev.cvpt.engine;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

import static org.bytedeco.pytorch.global.torch.createCPUGenerator;
import static org.bytedeco.pytorch.global.torch.randint;
import static org.bytedeco.pytorch.global.torch.set_num_threads;

/**
 * Splits a batch into one chunk per core and runs the chunks concurrently, each on its own thread
 * with single-threaded torch and OpenBLAS: no thread pool spins while another computes, every
 * GEMM runs at the single-core rate on half the rows, and the elementwise ops, attention and
 * GEMMs of the two chunks overlap. Per-sample results are exactly those of the whole batch
 * (nothing in a ViT mixes samples). Gradients of the shared trainables accumulate into the same
 * {@code .grad} (autograd's AccumulateGrad is thread-safe).
 *
 * <p>Chunk 0 runs on the calling thread. With more than one chunk each chunk draws its random masks
 * from its own generator, seeded from the calling thread's generator ({@link Rand}: the run's own,
 * else torch's default), so runs are reproducible for a given thread count; with one chunk nothing
 * changes.
 */
public final class DataParallel implements AutoCloseable {
    /** Work on one chunk: rows [start, start+len) of the batch. */
    @FunctionalInterface
    public interface ChunkTask<T> {
        T run(int chunk, long start, long len);
    }

    private final int workers;
    private final ExecutorService pool;

    public DataParallel(int workers) {
        Native.load();
        this.workers = Math.max(1, workers);
        AtomicInteger n = new AtomicInteger();
        this.pool = this.workers == 1 ? null : Executors.newFixedThreadPool(this.workers - 1, r -> {
            Thread t = new Thread(null, () -> {
                set_num_threads(1);   // this thread's OpenMP team size (omp_set_num_threads is per thread)
                r.run();
            }, "cvpt-worker-" + n.incrementAndGet(), 16L << 20);
            t.setDaemon(true);
            return t;
        });
    }

    public int workers() { return workers; }

    /**
     * Runs {@code task} on min(workers, batch) chunks of a batch of {@code batch} rows and returns
     * the results in chunk order. {@code seeded}: give each chunk its own generator (for training).
     */
    public <T> List<T> map(long batch, boolean seeded, ChunkTask<T> task) {
        int k = (int) Math.min(workers, batch);
        if (k <= 1) return List.of(task.run(0, 0, batch));
        long[] seeds = new long[k];
        if (seeded) {
            try (PointerScope s = new PointerScope()) {
                long[] drawn = Tensors.toLongs(randint(Long.MAX_VALUE, new long[]{k}, Rand.generator()));
                System.arraycopy(drawn, 0, seeds, 0, k);
            }
        }
        List<Future<T>> futures = new ArrayList<>();
        long base = batch / k, extra = batch % k, start = base + (extra > 0 ? 1 : 0);
        long len0 = start;
        for (int c = 1; c < k; c++) {
            long len = base + (c < extra ? 1 : 0), st = start;
            int chunk = c;
            long seed = seeds[c];
            futures.add(pool.submit(() -> withGenerator(seeded, seed, () -> task.run(chunk, st, len))));
            start += len;
        }
        List<T> out = new ArrayList<>();
        Throwable failure = null;
        try {
            out.add(withGenerator(seeded, seeds[0], () -> task.run(0, 0, len0)));
        } catch (RuntimeException | Error e) {
            failure = e;
        }
        for (Future<T> f : futures) {
            try {
                out.add(f.get());
            } catch (ExecutionException e) {
                if (failure == null) failure = e.getCause();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                if (failure == null) failure = e;
            }
        }
        if (failure instanceof RuntimeException re) throw re;
        if (failure instanceof Error er) throw er;
        if (failure != null) throw new IllegalStateException(failure);
        return out;
    }

    private static <T> T withGenerator(boolean seeded, long seed, java.util.function.Supplier<T> body) {
        if (!seeded) return body.get();
        try (PointerScope s = new PointerScope()) {
            Generator g = createCPUGenerator(seed);
            try (Rand.Binding b = Rand.bind(g)) {   // the calling thread gets its run's generator back after
                return body.get();
            }
        }
    }

    /** Rows [start, start+len) of a tensor (a view). */
    public static Tensor rows(Tensor t, long start, long len) {
        return t.narrow(0, start, len);
    }

    @Override
    public void close() {
        if (pool != null) pool.shutdownNow();
    }
}
