package dev.cvpt.data;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/** The 19 VTAB-1k tasks: class count, group and the official CVPT learning rate / prompt count. */
public enum VtabTask {
    CIFAR("cifar", 100, Group.NATURAL, 1e-3, 10),
    CALTECH101("caltech101", 102, Group.NATURAL, 1e-3, 200),
    DTD("dtd", 47, Group.NATURAL, 1e-3, 10),
    OXFORD_FLOWERS102("oxford_flowers102", 102, Group.NATURAL, 2e-3, 5),
    OXFORD_IIIT_PET("oxford_iiit_pet", 37, Group.NATURAL, 1e-3, 5),
    SVHN("svhn", 10, Group.NATURAL, 1e-2, 5),
    SUN397("sun397", 397, Group.NATURAL, 2e-3, 10),
    PATCH_CAMELYON("patch_camelyon", 2, Group.SPECIALIZED, 1e-2, 1),
    EUROSAT("eurosat", 10, Group.SPECIALIZED, 5e-3, 5),
    RESISC45("resisc45", 45, Group.SPECIALIZED, 5e-3, 10),
    DIABETIC_RETINOPATHY("diabetic_retinopathy", 5, Group.SPECIALIZED, 5e-3, 5),
    CLEVR_COUNT("clevr_count", 8, Group.STRUCTURED, 1e-3, 20),
    CLEVR_DIST("clevr_dist", 6, Group.STRUCTURED, 1e-3, 50),
    DMLAB("dmlab", 6, Group.STRUCTURED, 2e-3, 200),
    KITTI("kitti", 4, Group.STRUCTURED, 5e-3, 20),
    DSPRITES_LOC("dsprites_loc", 16, Group.STRUCTURED, 5e-3, 20),
    DSPRITES_ORI("dsprites_ori", 16, Group.STRUCTURED, 5e-3, 5),
    SMALLNORB_AZI("smallnorb_azi", 18, Group.STRUCTURED, 5e-3, 50),
    SMALLNORB_ELE("smallnorb_ele", 9, Group.STRUCTURED, 1e-3, 50);

    public enum Group { NATURAL, SPECIALIZED, STRUCTURED }

    /** The list files of the NOAH layout. */
    public static final List<String> SPLITS = List.of("train800", "val200", "train800val200", "test");

    private final String id;
    private final int numClasses;
    private final Group group;
    private final double lr;
    private final int prompts;

    VtabTask(String id, int numClasses, Group group, double lr, int prompts) {
        this.id = id;
        this.numClasses = numClasses;
        this.group = group;
        this.lr = lr;
        this.prompts = prompts;
    }

    /** The folder / config name, e.g. "oxford_flowers102". */
    public String id() { return id; }

    public int numClasses() { return numClasses; }

    public Group group() { return group; }

    /** Official learning rate of the CVPT configs. */
    public double lr() { return lr; }

    /** Official number of prompts of the CVPT configs. */
    public int prompts() { return prompts; }

    public static Optional<VtabTask> byId(String id) {
        return Arrays.stream(values()).filter(t -> t.id.equals(id)).findFirst();
    }

    public static List<VtabTask> inGroup(Group g) {
        return Arrays.stream(values()).filter(t -> t.group == g).toList();
    }
}
