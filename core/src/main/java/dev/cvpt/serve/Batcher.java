package dev.cvpt.serve;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Dynamic batching over every loaded task of a {@link Predictor}: one bounded queue of images,
 * {@code computeThreads} batcher threads, each of which takes a batch when it is full or when its
 * oldest image has waited {@code maxDelayMs}, and computes it (with two, one batch computes while
 * the next forms, and two run at once when the queue is long). With {@code crossTask} a batch takes the oldest images whatever their task
 * (tasks of equal signature share one forward, see {@link Predictor#probabilities}); without it a
 * batch takes the oldest image's task only (the baseline: each task batched apart).
 *
 * <p>An image whose deadline passed while it waited is dropped unanswered ({@link Rejected} with
 * 504). A task is removed between batches on a batcher thread ({@link #unload}) while no forward
 * runs (a read/write lock: forwards read, removals write); its images still queued fail with 404. {@link #close} stops taking images,
 * answers every queued one, then stops the thread (the SIGTERM drain).
 */
public final class Batcher implements AutoCloseable {

    /**
     * @param maxBatch      images per batch (at most)
     * @param maxDelayMs    longest wait of the oldest image before a partial batch goes
     * @param queueCapacity images waiting at most; past it {@link #submit} refuses with 429
     * @param deadlineMs    an image not started within this time of its arrival is dropped (0: none)
     * @param crossTask     batches may mix tasks
     * @param computeThreads batcher threads, each forming and computing its own batches (single-threaded
     *                       torch each): with 2, one batch computes while the next is formed and runs
     */
    public record Options(int maxBatch, double maxDelayMs, int queueCapacity, long deadlineMs, boolean crossTask, int computeThreads) {
        public Options {
            if (maxBatch < 1 || maxDelayMs < 0 || queueCapacity < 1 || deadlineMs < 0 || computeThreads < 1)
                throw new IllegalArgumentException("max batch, queue capacity and compute threads must be positive, delay and deadline not negative");
        }

        /** One compute thread. */
        public Options(int maxBatch, double maxDelayMs, int queueCapacity, long deadlineMs, boolean crossTask) {
            this(maxBatch, maxDelayMs, queueCapacity, deadlineMs, crossTask, 1);
        }

        /** As {@code cvpt serve}'s defaults: two compute threads. */
        public static Options defaults() { return new Options(16, 5, 256, 10_000, true, 2); }

        public Options withComputeThreads(int n) { return new Options(maxBatch, maxDelayMs, queueCapacity, deadlineMs, crossTask, n); }
    }

    /** An image refused or dropped, with the HTTP status that says why. */
    public static final class Rejected extends RuntimeException {
        private final int status;

        public Rejected(int status, String message) {
            super(message, null, false, false);
            this.status = status;
        }

        public int status() { return status; }
    }

    private record Item(Predictor.Task task, float[] input, long arrived, long deadline, CompletableFuture<float[]> result) {}

    private final Predictor predictor;
    private final Options o;
    private final Metrics metrics;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final ArrayDeque<Item> queue = new ArrayDeque<>();          // guarded by lock
    private final ArrayDeque<Runnable> control = new ArrayDeque<>();    // guarded by lock
    private boolean closing;                                            // guarded by lock
    // forwards hold the read lock, control actions (unload) the write lock: no forward runs during one
    private final java.util.concurrent.locks.ReentrantReadWriteLock forwards = new java.util.concurrent.locks.ReentrantReadWriteLock();
    private final List<Thread> threads = new ArrayList<>();

    public Batcher(Predictor predictor, Options options, Metrics metrics) {
        this.predictor = predictor;
        this.o = options;
        this.metrics = metrics;
        metrics.gauges(this::queueDepth, () -> predictor.tasks().size(), predictor::cacheBytes);
        for (int i = 0; i < options.computeThreads(); i++) {
            Thread t = new Thread(() -> {
                dev.cvpt.engine.Native.load();
                // this thread's OpenMP team size is its own (a new thread starts with one per core): as configured
                org.bytedeco.pytorch.global.torch.set_num_threads(dev.cvpt.engine.Native.configuredTorchThreads());
                loop();
            }, options.computeThreads() == 1 ? "cvpt-batcher" : "cvpt-batcher-" + i);
            t.setDaemon(true);
            threads.add(t);
        }
        threads.forEach(Thread::start);
    }

    private boolean anyAlive() { return threads.stream().anyMatch(Thread::isAlive); }

    public Options options() { return o; }

    public Predictor predictor() { return predictor; }

    public int queueDepth() {
        lock.lock();
        try {
            return queue.size();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Queues one image (a model input of the task, see {@link Predictor.Task#input}); the future
     * gets its softmax probabilities, or fails with {@link Rejected}.
     *
     * @throws Rejected 429 when the queue is full, 503 when closing, 404 for an unknown task
     */
    public CompletableFuture<float[]> submit(String task, float[] input) {
        return submit(List.of(task), List.of(input)).get(0);
    }

    /** Queues several images at once (all or none: 429 when they do not all fit). */
    public List<CompletableFuture<float[]>> submit(List<String> tasks, List<float[]> inputs) {
        long now = System.nanoTime();
        List<Item> items = new ArrayList<>(inputs.size());
        for (int i = 0; i < inputs.size(); i++) {
            Predictor.Task t = task(tasks.get(i));
            items.add(new Item(t, inputs.get(i), now, o.deadlineMs() == 0 ? Long.MAX_VALUE
                    : now + TimeUnit.MILLISECONDS.toNanos(o.deadlineMs()), new CompletableFuture<>()));
        }
        lock.lock();
        try {
            if (closing) throw new Rejected(503, "the server is shutting down");
            if (queue.size() + items.size() > o.queueCapacity())
                throw new Rejected(429, "the queue is full (" + queue.size() + " of " + o.queueCapacity() + " images waiting); retry later");
            for (Item it : items) {
                if (!predictor.hasTask(it.task().name()) || predictor.task(it.task().name()) != it.task())
                    throw new Rejected(404, "no task '" + it.task().name() + "' (it was unloaded)");
            }
            queue.addAll(items);
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        return items.stream().map(Item::result).toList();
    }

    /** The loaded task, or 404. */
    public Predictor.Task task(String name) {
        if (!predictor.hasTask(name)) throw new Rejected(404, "no task '" + name + "' (loaded: " + names() + ")");
        try {
            return predictor.task(name);
        } catch (RuntimeException e) {
            throw new Rejected(404, "no task '" + name + "'");
        }
    }

    private List<String> names() { return predictor.tasks().stream().map(Predictor.Task::name).toList(); }

    /**
     * Removes a task between two batches (never during a forward of it); its queued images fail
     * with 404. Returns false when it was not loaded.
     */
    public boolean unload(String name) {
        CompletableFuture<Boolean> done = new CompletableFuture<>();
        lock.lock();
        try {
            if (closing && !anyAlive()) return predictor.removeTask(name);
            control.add(() -> {
                boolean removed = predictor.removeTask(name);
                lock.lock();
                try {
                    for (Iterator<Item> it = queue.iterator(); it.hasNext(); ) {
                        Item i = it.next();
                        if (i.task() != currentOrNull(i.task().name())) {
                            it.remove();
                            i.result().completeExceptionally(new Rejected(404, "task '" + name + "' was unloaded while the request waited"));
                        }
                    }
                } finally {
                    lock.unlock();
                }
                done.complete(removed);
            });
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        return done.join();
    }

    private Predictor.Task currentOrNull(String name) {
        return predictor.hasTask(name) ? predictor.task(name) : null;
    }

    private void loop() {
        while (true) {
            List<Item> batch;
            lock.lock();
            try {
                batch = next();
                if (batch == null) return;
            } catch (InterruptedException e) {
                return;
            } finally {
                lock.unlock();
            }
            if (!batch.isEmpty()) run(batch);
        }
    }

    /** The next batch (empty after running control actions), or null when closed and drained. Under the lock. */
    private List<Item> next() throws InterruptedException {
        while (true) {
            if (!control.isEmpty()) {
                Runnable r = control.poll();
                lock.unlock();
                forwards.writeLock().lock();   // waits for the other threads' forwards
                try {
                    r.run();
                } finally {
                    forwards.writeLock().unlock();
                    lock.lock();
                }
                return List.of();
            }
            if (queue.isEmpty()) {
                if (closing) return null;
                changed.await();
                continue;
            }
            Item oldest = queue.peekFirst();
            long due = oldest.arrived() + (long) (o.maxDelayMs() * 1e6);
            long now = System.nanoTime();
            if (!closing && available(oldest) < o.maxBatch() && now < due) {
                changed.awaitNanos(due - now);
                continue;
            }
            List<Item> batch = new ArrayList<>(o.maxBatch());
            for (Iterator<Item> it = queue.iterator(); it.hasNext() && batch.size() < o.maxBatch(); ) {
                Item i = it.next();
                if (o.crossTask() || i.task() == oldest.task()) {
                    it.remove();
                    batch.add(i);
                }
            }
            return batch;
        }
    }

    private int available(Item oldest) {
        if (o.crossTask()) return queue.size();
        int n = 0;
        for (Item i : queue) if (i.task() == oldest.task() && ++n >= o.maxBatch()) break;
        return n;
    }

    private void run(List<Item> batch) {
        forwards.readLock().lock();
        try {
            runLocked(batch);
        } finally {
            forwards.readLock().unlock();
        }
    }

    private void runLocked(List<Item> batch) {
        long start = System.nanoTime();
        List<Item> live = new ArrayList<>(batch.size());
        for (Item i : batch) {
            if (start > i.deadline()) {
                metrics.deadlineExpired();
                i.result().completeExceptionally(new Rejected(504, "deadline exceeded: waited "
                        + (start - i.arrived()) / 1_000_000 + " ms in the queue (limit " + o.deadlineMs() + " ms)"));
            } else if (!predictor.hasTask(i.task().name()) || predictor.task(i.task().name()) != i.task()) {
                i.result().completeExceptionally(new Rejected(404, "task '" + i.task().name() + "' was unloaded while the request waited"));
            } else {
                live.add(i);
                metrics.queueSeconds.observe((start - i.arrived()) / 1e9);
            }
        }
        if (live.isEmpty()) return;
        try {
            List<float[]> p = predictor.probabilities(live.stream().map(Item::task).toList(),
                    live.stream().map(Item::input).toList(), o.crossTask());
            long end = System.nanoTime();
            metrics.computeSeconds.observe((end - start) / 1e9);
            metrics.batchSize.observe(live.size());
            Set<Predictor.Task> tasks = new HashSet<>();
            live.forEach(i -> tasks.add(i.task()));
            metrics.tasksPerBatch.observe(tasks.size());
            for (int j = 0; j < live.size(); j++) live.get(j).result().complete(p.get(j));
        } catch (RuntimeException | Error e) {
            for (Item i : live) i.result().completeExceptionally(e);
        }
    }

    /** Stops taking images, answers every queued one, and waits for the batcher thread (at most timeoutMs). */
    public boolean drain(long timeoutMs) throws InterruptedException {
        lock.lock();
        try {
            closing = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        long end = System.nanoTime() + timeoutMs * 1_000_000;
        for (Thread t : threads) t.join(Math.max(1, (end - System.nanoTime()) / 1_000_000));
        return !anyAlive();
    }

    @Override
    public void close() {
        try {
            drain(60_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
