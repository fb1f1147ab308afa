package dev.cvpt.train;

import dev.cvpt.data.DataException;
import dev.cvpt.data.Dataset;
import dev.cvpt.data.DatasetOptions;
import dev.cvpt.data.FgvcDataset;
import dev.cvpt.data.ImageFolderDataset;
import dev.cvpt.data.Transforms;
import dev.cvpt.data.Transforms.Transform;
import dev.cvpt.data.VtabDataset;

import dev.cvpt.data.Sample;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * The splits a training run uses, found from the folder's layout:
 * <ul>
 * <li>VTAB-1k (list files): trains on train800val200 and tests on test; with selectOnVal, trains on
 *     train800 and also evaluates val200. VTAB transform (Resize((s,s)) bicubic) everywhere.</li>
 * <li>FGVC (train.json/val.json/test.json): trains on train, evaluates val (when present) and test;
 *     RandomCrop + flip for training, Resize + CenterCrop for evaluation.</li>
 * <li>Image folders: DIR/train and DIR/test (and DIR/val) with one sub-folder per class; VTAB transform.</li>
 * </ul>
 */
public record DataSplits(String layout, String name, Dataset train, Dataset val, Dataset test,
                         Transform trainTransform, Transform evalTransform) {

    public static DataSplits open(Path dir, int imageSize, boolean selectOnVal, boolean skipBad) {
        Path root = dir.toAbsolutePath().normalize();
        if (!Files.isDirectory(root)) throw new DataException("no such dataset folder: " + root, List.of());
        String name = root.getFileName().toString();
        DatasetOptions opt = DatasetOptions.defaults().withSkipBad(skipBad);
        Problems p = new Problems();
        DataSplits d;
        if (Files.exists(root.resolve("test.txt"))) {
            Transform t = Transforms.vtab(imageSize);
            Dataset train = p.open(() -> VtabDataset.open(root, selectOnVal ? "train800" : "train800val200", opt));
            Dataset val = selectOnVal ? p.open(() -> VtabDataset.open(root, "val200", opt)) : null;
            Dataset test = p.open(() -> VtabDataset.open(root, "test", opt));
            d = new DataSplits("vtab", name, train, val, test, t, t);
        } else if (Files.exists(root.resolve("test.json"))) {
            Dataset train = p.open(() -> FgvcDataset.open(root, "train", opt));
            Dataset val = Files.exists(root.resolve("val.json")) ? p.open(() -> FgvcDataset.open(root, "val", opt)) : null;
            Dataset test = p.open(() -> FgvcDataset.open(root, "test", opt));
            d = new DataSplits("fgvc", name, train, val, test, Transforms.fgvcTrain(imageSize), Transforms.fgvcTest(imageSize));
        } else if (Files.isDirectory(root.resolve("train")) && Files.isDirectory(root.resolve("test"))) {
            Transform t = Transforms.vtab(imageSize);
            Dataset train = p.open(() -> ImageFolderDataset.open(root.resolve("train"), opt));
            Dataset val = Files.isDirectory(root.resolve("val")) ? p.open(() -> ImageFolderDataset.open(root.resolve("val"), opt)) : null;
            Dataset test = p.open(() -> ImageFolderDataset.open(root.resolve("test"), opt));
            if (train != null)
                for (Dataset e : java.util.Arrays.asList(val, test))
                    if (e != null && !e.classNames().equals(train.classNames()))
                        p.problems.add(e.root() + ": its class folders " + e.classNames() + " differ from " + train.root() + "'s " + train.classNames());
            d = new DataSplits("folder", name, train, val, test, t, t);
        } else {
            throw new DataException(root + ": not a dataset folder: expected VTAB-1k list files (train800val200.txt, test.txt), "
                    + "FGVC json files (train.json, test.json) or image folders (train/, test/)", List.of());
        }
        if (d.train() != null) d = d.withLabelsChecked(p, skipBad);
        if (!p.problems.isEmpty()) throw new DataException("dataset " + name + " has problems", p.problems);
        return d;
    }

    /** Problems of all splits, so that one message lists them all. */
    private static final class Problems {
        final List<String> problems = new ArrayList<>();

        Dataset open(Supplier<Dataset> s) {
            try {
                return s.get();
            } catch (DataException e) {
                if (e.problems().isEmpty()) problems.add(e.getMessage());
                else problems.addAll(e.problems());
                return null;
            }
        }
    }

    /**
     * The classes are the training split's: a val or test label outside them (a list file with a
     * wrong label, or splits that disagree) is a problem of its {@code file:line}, or left out with skipBad.
     */
    private DataSplits withLabelsChecked(Problems p, boolean skipBad) {
        int n = train.numClasses();
        Dataset v = checkLabels(val, n, p, skipBad), t = checkLabels(test, n, p, skipBad);
        return new DataSplits(layout, name, train, v, t, trainTransform, evalTransform);
    }

    private static Dataset checkLabels(Dataset d, int classes, Problems p, boolean skipBad) {
        if (d == null) return null;
        List<Sample> kept = new ArrayList<>();
        List<String> bad = new ArrayList<>();
        for (Sample s : d.samples()) {
            if (s.label() < classes) kept.add(s);
            else bad.add(s.source() + ": label " + s.label() + " out of range 0.." + (classes - 1)
                    + " (the training split has " + classes + " classes)");
        }
        if (bad.isEmpty()) return d;
        if (!skipBad || kept.isEmpty()) {
            p.problems.addAll(bad);
            return d;
        }
        return d.withSamples(kept, bad);
    }

    public int numClasses() { return train.numClasses(); }

    public List<String> classNames() { return train.classNames(); }
}
