package dev.cvpt.cli;

import dev.cvpt.UserException;
import dev.cvpt.data.ImageDecoder;
import dev.cvpt.data.RgbImage;
import dev.cvpt.data.Transforms;
import dev.cvpt.io.HostTensor;
import dev.cvpt.io.Npy;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** Runs one image through a transform and writes the float32 [3,H,W] tensor the model would see. */
@Command(name = "preprocess", description = "Decode an image and apply a transform (as torchvision on Pillow), write float32 [3,H,W] .npy.")
public final class PreprocessCommand implements Callable<Integer> {
    @Mixin DebugOption debug;

    @Parameters(index = "0", paramLabel = "IMAGE", description = "Image file (JPEG, PNG, BMP, GIF, TIFF).")
    Path image;

    @Option(names = "--transform", required = true, paramLabel = "vtab|fgvc-test",
            description = "vtab: Resize((N,N), BICUBIC); fgvc-test: Resize(N*256/224) + CenterCrop(N).")
    String transform;

    @Option(names = "--size", defaultValue = "224", description = "Output edge N (default ${DEFAULT-VALUE}).")
    int size;

    @Option(names = "--out", required = true, paramLabel = "FILE.npy", description = "Where to write the tensor.")
    Path out;

    @Override
    public Integer call() {
        if (!transform.equals("vtab") && !transform.equals("fgvc-test"))
            throw new UserException("--transform must be vtab or fgvc-test, got '" + transform + "'");
        if (size <= 0) throw new UserException("--size must be positive, got " + size);
        RgbImage im = ImageDecoder.decodeRgb(image);
        float[] x = Transforms.toNormalizedFloats(Transforms.byName(transform, size).apply(im, null));
        try {
            Npy.write(out, HostTensor.ofFloats(x, 3, size, size));
        } catch (IOException e) {
            throw new UserException(out + ": cannot write: " + e.getMessage(), e);
        }
        System.out.printf("%s: %dx%d -> %s [3,%d,%d] %s%n", image, im.width(), im.height(), transform, size, size, out);
        return Main.OK;
    }
}
