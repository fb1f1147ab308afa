package dev.cvpt.data;

import java.util.Arrays;
import java.util.Optional;

/**
 * The five FGVC datasets: class count, where VPT's loader finds the images relative to the dataset
 * folder, and the official CVPT learning rate / prompt count.
 */
public enum FgvcTask {
    CUB("CUB", 200, "images", 5e-4, 5),
    NABIRDS("NABirds", 555, "images", 2e-4, 200),
    OXFORD_FLOWERS("OxfordFlowers", 102, "", 1e-3, 5),
    STANFORD_DOGS("StanfordDogs", 120, "Images", 2e-4, 10),
    STANFORD_CARS("StanfordCars", 196, "", 2e-3, 100);

    private final String id;
    private final int numClasses;
    private final String imageDir;
    private final double lr;
    private final int prompts;

    FgvcTask(String id, int numClasses, String imageDir, double lr, int prompts) {
        this.id = id;
        this.numClasses = numClasses;
        this.imageDir = imageDir;
        this.lr = lr;
        this.prompts = prompts;
    }

    public String id() { return id; }

    public int numClasses() { return numClasses; }

    /** Folder under the dataset root that the JSON paths are relative to ("" for the root itself). */
    public String imageDir() { return imageDir; }

    public double lr() { return lr; }

    public int prompts() { return prompts; }

    /** By id, ignoring case and the separators people put in folder names (CUB_200_2011 → CUB). */
    public static Optional<FgvcTask> byId(String name) {
        String n = name.toLowerCase().replaceAll("[^a-z]", "");
        return Arrays.stream(values()).filter(t -> {
            String id = t.id.toLowerCase();
            return n.equals(id) || (t == CUB && n.startsWith("cub"));
        }).findFirst();
    }
}
