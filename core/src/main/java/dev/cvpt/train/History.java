package dev.cvpt.train;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cvpt.io.AtomicFiles;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Per-epoch figures of a run, and the files made of them (metrics.csv, loss.png, accuracy.png). */
public final class History {
    /** One epoch. Accuracies are percent; NaN where not evaluated that epoch. */
    public record Row(int epoch, double lr, double trainLoss, double trainTop1, double imagesPerS, double seconds,
                      double valTop1, double testTop1) {}

    private final List<Row> rows = new ArrayList<>();
    private static final ObjectMapper JSON = new ObjectMapper();

    public List<Row> rows() { return rows; }

    public void add(Row r) { rows.add(r); }

    public String toJson() {
        try {
            return JSON.writeValueAsString(rows.stream().map(r -> new double[]{r.epoch(), r.lr(), r.trainLoss(), r.trainTop1(),
                    r.imagesPerS(), r.seconds(), r.valTop1(), r.testTop1()}).toList());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    public static History fromJson(String json) throws IOException {
        History h = new History();
        // NaN (not evaluated) is written by Jackson as the string "NaN"
        List<List<Object>> raw = JSON.readValue(json, new TypeReference<>() {});
        for (List<Object> r : raw) {
            double[] v = r.stream().mapToDouble(o -> o == null ? Double.NaN : o instanceof Number n ? n.doubleValue()
                    : Double.parseDouble(o.toString())).toArray();
            h.add(new Row((int) v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]));
        }
        return h;
    }

    public void writeCsv(Path file) throws IOException {
        StringBuilder sb = new StringBuilder("epoch,lr,train_loss,train_top1,images_per_s,seconds,val_top1,test_top1\n");
        for (Row r : rows)
            sb.append(String.format(Locale.ROOT, "%d,%.6g,%.6f,%.4f,%.2f,%.2f,%s,%s%n", r.epoch(), r.lr(), r.trainLoss(), r.trainTop1(),
                    r.imagesPerS(), r.seconds(), fmt(r.valTop1()), fmt(r.testTop1())));
        AtomicFiles.write(file, out -> out.write(sb.toString().getBytes(StandardCharsets.UTF_8)));
    }

    private static String fmt(double v) { return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.4f", v); }

    /** loss.png (train loss per epoch) and accuracy.png (train, val and test top-1 per epoch). */
    public void writePlots(Path dir, String title) throws IOException {
        if (rows.isEmpty()) return;
        System.setProperty("java.awt.headless", "true");
        XYChart loss = new XYChartBuilder().width(800).height(500).title(title + ": training loss")
                .xAxisTitle("epoch").yAxisTitle("cross-entropy").build();
        loss.getStyler().setLegendVisible(false);
        loss.addSeries("train loss", col(r -> r.epoch() + 1.0), col(Row::trainLoss)).setMarker(SeriesMarkers.NONE);
        save(loss, dir.resolve("loss.png"));

        XYChart acc = new XYChartBuilder().width(800).height(500).title(title + ": top-1 accuracy")
                .xAxisTitle("epoch").yAxisTitle("top-1 (%)").build();
        acc.addSeries("train", col(r -> r.epoch() + 1.0), col(Row::trainTop1)).setMarker(SeriesMarkers.NONE);
        addPoints(acc, "val", Row::valTop1);
        addPoints(acc, "test", Row::testTop1);
        save(acc, dir.resolve("accuracy.png"));
    }

    private void addPoints(XYChart chart, String name, java.util.function.ToDoubleFunction<Row> f) {
        List<Double> x = new ArrayList<>(), y = new ArrayList<>();
        for (Row r : rows) if (!Double.isNaN(f.applyAsDouble(r))) { x.add(r.epoch() + 1.0); y.add(f.applyAsDouble(r)); }
        if (!x.isEmpty()) chart.addSeries(name, x, y).setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
    }

    private double[] col(java.util.function.ToDoubleFunction<Row> f) { return rows.stream().mapToDouble(f).toArray(); }

    private static void save(XYChart chart, Path file) throws IOException {
        byte[] png = BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG);
        AtomicFiles.write(file, out -> out.write(png));
    }
}
