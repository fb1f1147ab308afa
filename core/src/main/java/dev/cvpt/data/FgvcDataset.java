package dev.cvpt.data;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * An FGVC dataset in the VPT (KMnP) layout: {@code train.json}, {@code val.json}, {@code test.json},
 * each an object {@code "relative/path": classId}. Class ids are remapped to contiguous ids in sorted
 * order, as VPT does.
 *
 * <p>VPT sorts the ids of each split on its own; we sort the union of the splits present, so a class
 * missing from one split cannot silently shift the labels of the others (identical whenever the
 * splits share their classes, as the published splits do).
 */
public final class FgvcDataset {
    private FgvcDataset() {}

    public static final List<String> SPLITS = List.of("train", "val", "test");

    private record Entry(String path, Object classId, int line) {}

    public static Dataset open(Path datasetDir, String split, DatasetOptions opt) {
        Path root = datasetDir.toAbsolutePath().normalize();
        if (!Files.isDirectory(root)) throw new DataException("no such dataset folder: " + root, List.of());
        String name = opt.task() != null ? opt.task() : DatasetFiles.fileName(root);
        Optional<FgvcTask> task = FgvcTask.byId(name);
        if (opt.task() != null && task.isEmpty())
            throw new DataException("unknown FGVC dataset '" + opt.task() + "' (known: CUB, NABirds, OxfordFlowers, StanfordDogs, StanfordCars)", List.of());
        Path file = root.resolve(split.endsWith(".json") ? split : split + ".json");
        if (!Files.isRegularFile(file))
            throw new DataException("no annotation file " + file + " (an FGVC folder has train.json, val.json, test.json)", List.of());
        Path imageRoot = task.map(t -> root.resolve(t.imageDir())).orElse(root).normalize();

        DatasetProblems problems = new DatasetProblems();
        List<Entry> entries = read(file, problems);
        int bad = problems.size();

        // Class ids of all splits present: numbers sort as numbers, anything else as text.
        TreeSet<Object> ids = new TreeSet<>(ID_ORDER);
        for (String s : SPLITS) {
            Path f = root.resolve(s + ".json");
            if (f.equals(file)) entries.forEach(e -> ids.add(e.classId));
            else if (Files.isRegularFile(f)) read(f, new DatasetProblems()).forEach(e -> ids.add(e.classId));
        }
        Map<Object, Integer> cont = new TreeMap<>(ID_ORDER);
        for (Object id : ids) cont.put(id, cont.size());

        int expected = task.map(FgvcTask::numClasses).orElse(0);
        if (opt.numClasses() > 0 && expected > 0 && opt.numClasses() != expected)
            problems.add(file, task.get().id() + " has " + expected + " classes, but " + opt.numClasses() + " were asked for");
        if (expected == 0) expected = opt.numClasses();
        if (expected > 0 && cont.size() > expected)
            problems.add(file, "the annotations have " + cont.size() + " classes, but " + name + " has " + expected);

        List<Sample> samples = new ArrayList<>();
        for (Entry e : entries) {
            Object r = DatasetFiles.resolve(imageRoot, e.path);
            if (r instanceof String reason) {
                problems.add(file, e.line, reason);
                bad++;
                continue;
            }
            samples.add(new Sample((Path) r, cont.get(e.classId), file + ":" + e.line));
        }
        List<String> classNames = cont.keySet().stream().map(String::valueOf).toList();
        if (expected > cont.size()) {
            List<String> padded = new ArrayList<>(classNames);
            while (padded.size() < expected) padded.add("unseen-" + padded.size());
            classNames = padded;
        }
        return VtabDataset.finish(name, root, split, samples, classNames, bad, problems, file, opt);
    }

    private static final Comparator<Object> ID_ORDER = (a, b) -> {
        if (a instanceof Long x && b instanceof Long y) return Long.compare(x, y);
        if (a instanceof Long) return -1;
        if (b instanceof Long) return 1;
        return a.toString().compareTo(b.toString());
    };

    /** The entries of one annotation file with their line numbers; bad ones go to {@code problems}. */
    private static List<Entry> read(Path file, DatasetProblems problems) {
        List<Entry> out = new ArrayList<>();
        try (JsonParser p = new JsonFactory().createParser(file.toFile())) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                problems.add(file, p.currentLocation().getLineNr(), "expected a JSON object {\"path\": class id}");
                return out;
            }
            JsonToken t;
            while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
                String path = p.currentName();
                int line = p.currentLocation().getLineNr();
                JsonToken v = p.nextToken();
                Object id = null;
                if (v == JsonToken.VALUE_NUMBER_INT) id = p.getLongValue();
                else if (v == JsonToken.VALUE_STRING) {
                    String s = p.getText().strip();
                    try {
                        id = Long.parseLong(s);
                    } catch (NumberFormatException e) {
                        id = s.isEmpty() ? null : s;
                    }
                }
                if (id == null) {
                    problems.add(file, line, "malformed label for '" + path + "': " + (v.isStructStart() ? "not a class id" : p.getText()));
                    p.skipChildren();
                    continue;
                }
                if (id instanceof Long l && l < 0) {
                    problems.add(file, line, "label " + l + " out of range (class ids are not negative)");
                    continue;
                }
                out.add(new Entry(path, id, line));
            }
            if (t != JsonToken.END_OBJECT) problems.add(file, p.currentLocation().getLineNr(), "malformed JSON");
        } catch (IOException e) {
            problems.add(file, "malformed JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
        return out;
    }
}
