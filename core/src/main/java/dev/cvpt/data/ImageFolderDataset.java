package dev.cvpt.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Stream;

/**
 * torchvision's ImageFolder: one sub-folder per class (sorted names are the classes), the image
 * files inside it (any depth, sorted), recognised by extension.
 */
public final class ImageFolderDataset {
    private ImageFolderDataset() {}

    /** torchvision's IMG_EXTENSIONS. */
    public static final Set<String> EXTENSIONS = Set.of(".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp", ".gif");

    public static Dataset open(Path folder, DatasetOptions opt) {
        Path root = folder.toAbsolutePath().normalize();
        if (!Files.isDirectory(root)) throw new DataException("no such dataset folder: " + root, List.of());
        DatasetProblems problems = new DatasetProblems();
        List<Path> classDirs;
        try (Stream<Path> s = Files.list(root)) {
            classDirs = s.filter(Files::isDirectory).sorted().toList();
        } catch (IOException e) {
            throw new DataException("cannot list " + root + ": " + e.getMessage(), List.of());
        }
        if (classDirs.isEmpty()) throw new DataException(root + ": no class folders (an image folder has one sub-folder per class)", List.of());
        if (opt.numClasses() > 0 && opt.numClasses() != classDirs.size())
            problems.add(root, classDirs.size() + " class folders, but " + opt.numClasses() + " classes were asked for");
        List<Sample> samples = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (Path dir : classDirs) {
            int label = names.size();
            names.add(dir.getFileName().toString());
            List<Path> files;
            try (Stream<Path> s = Files.walk(dir)) {
                files = s.filter(Files::isRegularFile).filter(ImageFolderDataset::isImage).sorted().toList();
            } catch (IOException e) {
                problems.add(dir, "cannot list: " + e.getMessage());
                continue;
            }
            if (files.isEmpty()) problems.add(dir, "class folder without images");
            for (Path f : files) samples.add(new Sample(f, label, f.toString()));
        }
        return VtabDataset.finish(DatasetFiles.fileName(root), root, "all", samples, names, 0, problems, root, opt);
    }

    static boolean isImage(Path p) {
        String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
        int dot = n.lastIndexOf('.');
        return dot >= 0 && EXTENSIONS.contains(n.substring(dot));
    }
}
