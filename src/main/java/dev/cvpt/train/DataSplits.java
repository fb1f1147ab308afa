package dev.cvpt.train;

import dev.cvpt.data.DataException;
import dev.cvpt.data.Dataset;
import dev.cvpt.data.DatasetOptions;
import dev.cvpt.data.FgvcDataset;
import dev.cvpt.data.ImageFolderDataset;
import dev.cvpt.data.Transforms;
import dev.cvpt.data.Transforms.Transform;
import dev.cvpt.data.VtabDataset;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

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
        if (Files.exists(root.resolve("test.txt"))) {
            Transform t = Transforms.vtab(imageSize);
            Dataset train = VtabDataset.open(root, selectOnVal ? "train800" : "train800val200", opt);
            Dataset val = selectOnVal ? VtabDataset.open(root, "val200", opt) : null;
            Dataset test = VtabDataset.open(root, "test", opt);
            return new DataSplits("vtab", name, train, val, test, t, t);
        }
        if (Files.exists(root.resolve("test.json"))) {
            Dataset train = FgvcDataset.open(root, "train", opt);
            Dataset val = Files.exists(root.resolve("val.json")) ? FgvcDataset.open(root, "val", opt) : null;
            Dataset test = FgvcDataset.open(root, "test", opt);
            return new DataSplits("fgvc", name, train, val, test, Transforms.fgvcTrain(imageSize), Transforms.fgvcTest(imageSize));
        }
        if (Files.isDirectory(root.resolve("train")) && Files.isDirectory(root.resolve("test"))) {
            Transform t = Transforms.vtab(imageSize);
            Dataset train = ImageFolderDataset.open(root.resolve("train"), opt);
            Dataset val = Files.isDirectory(root.resolve("val")) ? ImageFolderDataset.open(root.resolve("val"), opt) : null;
            Dataset test = ImageFolderDataset.open(root.resolve("test"), opt);
            for (Dataset d : val == null ? List.of(test) : List.of(val, test))
                if (!d.classNames().equals(train.classNames()))
                    throw new DataException(d.root() + ": its class folders differ from " + train.root() + "'s", List.of());
            return new DataSplits("folder", name, train, val, test, t, t);
        }
        throw new DataException(root + ": not a dataset folder: expected VTAB-1k list files (train800val200.txt, test.txt), "
                + "FGVC json files (train.json, test.json) or image folders (train/, test/)", List.of());
    }

    public int numClasses() { return train.numClasses(); }

    public List<String> classNames() { return train.classNames(); }
}
