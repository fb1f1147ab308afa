package dev.cvpt.train.seg;

import dev.cvpt.UserException;
import dev.cvpt.data.DataException;
import dev.cvpt.data.seg.SegDataset;
import dev.cvpt.data.seg.SegPipeline;
import dev.cvpt.data.seg.SegPipelineConfig;
import dev.cvpt.data.seg.SegSample;

import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

/** {@link SegInputs} on an ADE20K-layout folder through seg-data's {@link SegDataset} and {@link SegPipeline}. */
final class SegFolderInputs implements SegInputs {
    private final SegDataset train, eval;
    private final SegPipeline pipeline;

    private SegFolderInputs(SegDataset train, SegDataset eval, SegPipeline pipeline) {
        this.train = train;
        this.eval = eval;
        this.pipeline = pipeline;
    }

    /** The recipe's pipeline: official ADE20K values with its crop and img_scale. */
    static SegPipelineConfig pipelineConfig(SegRecipe r) {
        return SegPipelineConfig.ade20k().withCrop(r.crop(), r.crop()).withScale(r.scaleLong(), r.scaleShort());
    }

    static SegInputs open(Path data, SegRecipe r, boolean skipBad, int threads, boolean withTrain, String evalSplit) {
        SegDataset.Options opt = new SegDataset.Options(skipBad, true, Math.max(1, threads));
        SegDataset tr = withTrain ? SegDataset.open(data, "training", opt) : null;
        SegDataset ev = SegDataset.open(data, evalSplit, opt);
        return new SegFolderInputs(tr, ev, new SegPipeline(pipelineConfig(r)));
    }

    @Override public int numClasses() { return eval.numClasses(); }

    @Override public boolean reduceZeroLabel() { return eval.reduceZeroLabel(); }

    @Override public List<String> classNames() { return eval.classNames(); }

    @Override public int[][] palette() { return eval.palette(); }

    @Override public int trainSize() { return train == null ? 0 : train.size(); }

    @Override public int valSize() { return eval.size(); }

    @Override public int skipped() { return (train == null ? 0 : train.skipped()) + eval.skipped(); }

    @Override
    public SegSample train(int index, long seed) {
        return pipeline.train(train, index, new SplittableRandom(seed));
    }

    @Override
    public SegSample val(int index) {
        return pipeline.test(eval, index);
    }
}
