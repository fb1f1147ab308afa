package dev.cvpt.data;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A VTAB-1k task folder in the NOAH layout: list files {@code train800.txt}, {@code val200.txt},
 * {@code train800val200.txt}, {@code test.txt} with lines {@code relative/path label}; images
 * under the task folder. A folder named after a known task is checked against its class count.
 */
public final class VtabDataset {
    private VtabDataset() {}

    /** Opens {@code split} (a list-file name without .txt) of the task in {@code taskDir}. */
    public static Dataset open(Path taskDir, String split, DatasetOptions opt) {
        Path root = taskDir.toAbsolutePath().normalize();
        String name = opt.task() != null ? opt.task() : DatasetFiles.fileName(root);
        Optional<VtabTask> task = VtabTask.byId(name);
        DatasetProblems problems = new DatasetProblems();
        if (opt.task() != null && task.isEmpty())
            throw new DataException("unknown VTAB task '" + opt.task() + "' (known: "
                    + String.join(", ", java.util.Arrays.stream(VtabTask.values()).map(VtabTask::id).toList()) + ")", List.of());
        Path list = root.resolve(split.endsWith(".txt") ? split : split + ".txt");
        if (!Files.isDirectory(root)) throw new DataException("no such dataset folder: " + root, List.of());
        if (!Files.isRegularFile(list))
            throw new DataException("no list file " + list + " (a VTAB-1k task folder has " + String.join(", ",
                    VtabTask.SPLITS.stream().map(s -> s + ".txt").toList()) + ")", List.of());

        int expected = 0;
        if (task.isPresent()) {
            expected = task.get().numClasses();
            if (opt.numClasses() > 0 && opt.numClasses() != expected)
                problems.add(list, "task " + task.get().id() + " has " + expected + " classes, but " + opt.numClasses() + " were asked for");
        } else if (opt.numClasses() > 0) expected = opt.numClasses();

        List<String> lines;
        try {
            lines = Files.readAllLines(list, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new DataException("cannot read " + list + ": " + e.getMessage(), List.of());
        }
        List<Sample> samples = new ArrayList<>();
        int bad = 0, maxLabel = -1;
        for (int i = 0; i < lines.size(); i++) {
            int lineNo = i + 1;
            String line = lines.get(i).strip();
            if (line.isEmpty()) continue;
            int sp = lastWhitespace(line);
            if (sp < 0) {
                problems.add(list, lineNo, "malformed line '" + line + "' (expected 'relative/path label')");
                bad++;
                continue;
            }
            String rel = line.substring(0, sp).strip(), lab = line.substring(sp + 1);
            int label;
            try {
                label = Integer.parseInt(lab);
            } catch (NumberFormatException e) {
                problems.add(list, lineNo, "malformed label '" + lab + "' (expected a class number)");
                bad++;
                continue;
            }
            if (label < 0 || (expected > 0 && label >= expected)) {
                problems.add(list, lineNo, "label " + label + " out of range 0.." + (expected > 0 ? expected - 1 : "")
                        + (task.isPresent() ? " (task " + task.get().id() + " has " + expected + " classes)" : ""));
                bad++;
                continue;
            }
            Object r = DatasetFiles.resolve(root, rel);
            if (r instanceof String reason) {
                problems.add(list, lineNo, reason);
                bad++;
                continue;
            }
            maxLabel = Math.max(maxLabel, label);
            samples.add(new Sample((Path) r, label, list + ":" + lineNo));
        }
        int numClasses = expected > 0 ? expected : maxLabel + 1;
        return finish(name, root, split, samples, classNames(numClasses), bad, problems, list, opt);
    }

    /** Shared end of the readers: an empty split is always fatal; other problems unless skipBad. */
    static Dataset finish(String name, Path root, String split, List<Sample> samples, List<String> classNames,
                          int bad, DatasetProblems problems, Path listFile, DatasetOptions opt) {
        if (!opt.skipBad()) problems.throwIfAny("dataset " + name + " (" + split + ") has problems");
        if (samples.isEmpty()) {
            problems.add(listFile, "empty split: no usable samples");
            throw new DataException("dataset " + name + " (" + split + ") is empty", problems.list());
        }
        return new Dataset(name, root, split, samples, classNames, bad, problems.list());
    }

    static List<String> classNames(int n) {
        List<String> names = new ArrayList<>(n);
        for (int i = 0; i < n; i++) names.add(Integer.toString(i));
        return names;
    }

    private static int lastWhitespace(String s) {
        for (int i = s.length() - 1; i >= 0; i--) if (Character.isWhitespace(s.charAt(i))) return i;
        return -1;
    }
}
