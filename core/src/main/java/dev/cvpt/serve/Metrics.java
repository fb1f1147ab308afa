package dev.cvpt.serve;

import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.function.LongSupplier;

/**
 * Serving metrics in the Prometheus text exposition format (version 0.0.4), written by hand: a few
 * histograms, counters and gauges do not earn a client library. Thread-safe and lock-free.
 */
public final class Metrics {
    /** Cumulative histogram with fixed upper bounds (plus +Inf). */
    public static final class Histogram {
        final double[] bounds;
        final AtomicLongArray counts;
        final DoubleAdder sum = new DoubleAdder();
        final AtomicLong count = new AtomicLong();

        Histogram(double... bounds) {
            this.bounds = bounds;
            this.counts = new AtomicLongArray(bounds.length);
        }

        public void observe(double v) {
            for (int i = 0; i < bounds.length; i++) if (v <= bounds[i]) counts.incrementAndGet(i);
            sum.add(v);
            count.incrementAndGet();
        }

        public long count() { return count.get(); }

        public double sum() { return sum.sum(); }

        /** Mean of the observations (NaN before the first). */
        public double mean() {
            long n = count.get();
            return n == 0 ? Double.NaN : sum.sum() / n;
        }
    }

    private static final double[] SECONDS = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    private static final double[] SIZES = {1, 2, 4, 8, 16, 32, 64, 128};

    public final Histogram requestSeconds = new Histogram(SECONDS), queueSeconds = new Histogram(SECONDS),
            computeSeconds = new Histogram(SECONDS), batchSize = new Histogram(SIZES), tasksPerBatch = new Histogram(SIZES);
    private final Map<Integer, AtomicLong> responses = new ConcurrentHashMap<>();
    private final AtomicLong deadlineExpired = new AtomicLong();
    private volatile LongSupplier queueDepth = () -> 0, tasksLoaded = () -> 0, cacheBytes = () -> 0;

    public void gauges(LongSupplier queueDepth, LongSupplier tasksLoaded, LongSupplier cacheBytes) {
        this.queueDepth = queueDepth;
        this.tasksLoaded = tasksLoaded;
        this.cacheBytes = cacheBytes;
    }

    public void response(int status) { responses.computeIfAbsent(status, s -> new AtomicLong()).incrementAndGet(); }

    public long responses(int status) {
        AtomicLong n = responses.get(status);
        return n == null ? 0 : n.get();
    }

    public void deadlineExpired() { deadlineExpired.incrementAndGet(); }

    /** The exposition text. */
    public String text() {
        StringBuilder b = new StringBuilder(4096);
        histogram(b, "cvpt_request_seconds", "Time from a request's arrival to its answer (inference requests).", requestSeconds);
        histogram(b, "cvpt_queue_seconds", "Time an image waited in the batch queue.", queueSeconds);
        histogram(b, "cvpt_compute_seconds", "Time of one batch's forward passes.", computeSeconds);
        histogram(b, "cvpt_batch_size", "Images per dispatched batch.", batchSize);
        histogram(b, "cvpt_tasks_per_batch", "Distinct tasks per dispatched batch.", tasksPerBatch);
        b.append("# HELP cvpt_http_responses_total HTTP responses by status code.\n# TYPE cvpt_http_responses_total counter\n");
        responses.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e ->
                b.append("cvpt_http_responses_total{code=\"").append(e.getKey()).append("\"} ").append(e.getValue().get()).append('\n'));
        counter(b, "cvpt_deadline_expired_total", "Images dropped unanswered because their deadline passed in the queue.", deadlineExpired.get());
        gauge(b, "cvpt_queue_depth", "Images waiting in the batch queue.", queueDepth.getAsLong());
        gauge(b, "cvpt_tasks_loaded", "Tasks loaded.", tasksLoaded.getAsLong());
        gauge(b, "cvpt_cache_bytes", "Bytes held by the tasks' prompt caches.", cacheBytes.getAsLong());
        return b.toString();
    }

    private static void histogram(StringBuilder b, String name, String help, Histogram h) {
        b.append("# HELP ").append(name).append(' ').append(help).append("\n# TYPE ").append(name).append(" histogram\n");
        for (int i = 0; i < h.bounds.length; i++)
            b.append(name).append("_bucket{le=\"").append(num(h.bounds[i])).append("\"} ").append(h.counts.get(i)).append('\n');
        long n = h.count.get();
        b.append(name).append("_bucket{le=\"+Inf\"} ").append(n).append('\n');
        b.append(name).append("_sum ").append(num(h.sum.sum())).append('\n');
        b.append(name).append("_count ").append(n).append('\n');
    }

    private static void counter(StringBuilder b, String name, String help, long v) {
        b.append("# HELP ").append(name).append(' ').append(help).append("\n# TYPE ").append(name).append(" counter\n")
                .append(name).append(' ').append(v).append('\n');
    }

    private static void gauge(StringBuilder b, String name, String help, long v) {
        b.append("# HELP ").append(name).append(' ').append(help).append("\n# TYPE ").append(name).append(" gauge\n")
                .append(name).append(' ').append(v).append('\n');
    }

    private static String num(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : String.format(Locale.ROOT, "%s", v);
    }
}
