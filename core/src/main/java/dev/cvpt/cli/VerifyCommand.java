package dev.cvpt.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cvpt.verify.GoldenCases;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "verify", sortOptions = false,
        description = {"Recompute a golden case of the PyTorch oracle (forward, backward, one AdamW step) and compare;",
                "segmentation cases dispatch on their config.kind (metrics, resize: compared exactly).",
                "Prints one JSON object; exit 0 when every entry is within tolerance, 1 when not, 2 on bad input."})
public final class VerifyCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "CASE.npz", description = "A golden case (its NAME.json must lie beside it).")
    Path caseFile;

    @Option(names = "--checkpoint", paramLabel = "FILE",
            description = "Backbone checkpoint (.npz, .safetensors, .pth); default: config.ckpt next to the case.")
    Path checkpoint;

    @Option(names = "--dump", paramLabel = "OUT.npz", description = "Also write the recomputed entries to an .npz file.")
    Path dump;

    @Mixin DebugOption debug;

    @Override
    public Integer call() throws Exception {
        GoldenCases.Outcome r = GoldenCases.run(caseFile, checkpoint);   // dispatches on config.kind
        if (dump != null) dev.cvpt.io.Npz.write(dump, r.computed());
        System.out.println(new ObjectMapper().writeValueAsString(r.json()));
        return r.passed() ? Main.OK : Main.FAILED;
    }
}
