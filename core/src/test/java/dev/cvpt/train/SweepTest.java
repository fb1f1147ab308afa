package dev.cvpt.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cvpt.UserException;
import dev.cvpt.cli.Main;
import dev.cvpt.demo.Demo;
import dev.cvpt.synth.SyntheticTasks;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** cvpt sweep: a plan split over workers gives the numbers of the runs made one after the other. */
class SweepTest {
    @TempDir static Path tmp;

    /** A 3-run plan (two methods, two seeds, two lrs) writing under {@code outRoot}, relative to the plan's folder. */
    static Path plan(Path dir, String outRoot) throws Exception {
        Files.createDirectories(dir);
        SyntheticTasks.write(dir, "disk", 32, 3, 64, 0, 48, 2);
        Demo.shippedBackbone(dir);
        String common = "\"data\": \"disk\", \"checkpoint\": \"demo-vit.safetensors\", \"task\": \"disk\", "
                + "\"recipe\": {\"epochs\": 3, \"batch\": 16, \"warmupEpochs\": 1, \"evalEvery\": 3, \"lr\": %s}";
        String text = "# a comment line, not a run\n"
                + "{" + String.format(common, "2e-2") + ", \"method\": \"cvpt\", \"options\": {\"prompts\": 4}, \"seed\": 1, \"out\": \"" + outRoot + "/r0\"}\n"
                + "\n"
                + "{" + String.format(common, "1e-2") + ", \"method\": \"vpt\", \"options\": {\"prompts\": 3}, \"seed\": 2, \"out\": \"" + outRoot + "/r1\"}\n"
                + "{" + String.format(common, "2e-2") + ", \"method\": \"linear\", \"seed\": 3, \"out\": \"" + outRoot + "/r2\"}\n";
        Path p = dir.resolve(outRoot + ".jsonl");
        Files.writeString(p, text);
        return p;
    }

    /** metrics.json without the timing fields. */
    static JsonNode numbers(Path run) throws Exception {
        ObjectNode m = (ObjectNode) TaskFile.JSON.readTree(Files.readString(run.resolve("metrics.json")));
        m.remove(List.of("images_per_s", "train_seconds"));
        return m;
    }

    @Test
    void workersGiveTheSequentialNumbers() throws Exception {
        Path dir = tmp.resolve("sweep");
        Path seq = plan(dir, "seq"), par = plan(dir, "par");
        assertEquals(Main.OK, Main.execute("sweep", "--plan", seq.toString()));

        // two workers at the same time in this JVM: worker 0 runs lines 0 and 2, worker 1 line 1
        var lines = Plan.read(par);
        PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
        var pool = Executors.newFixedThreadPool(2);
        try {
            List<Future<List<JsonNode>>> f = List.of(pool.submit(() -> Plan.sweep(lines, 0, 2, OptionalInt.empty(), quiet)),
                    pool.submit(() -> Plan.sweep(lines, 1, 2, OptionalInt.empty(), quiet)));
            assertEquals(2, f.get(0).get().size());
            assertEquals(1, f.get(1).get().size());
        } finally {
            pool.shutdownNow();
        }
        for (String r : List.of("r0", "r1", "r2"))
            assertEquals(numbers(dir.resolve("seq").resolve(r)), numbers(dir.resolve("par").resolve(r)), r);
        assertEquals("vpt", TaskFile.JSON.readTree(Files.readString(dir.resolve("par/r1/run.json"))).get("method").asText());
        assertEquals(2, TaskFile.JSON.readTree(Files.readString(dir.resolve("par/r1/run.json"))).get("recipe").get("seed").asInt());

        // a finished plan is skipped: the runs are not touched again
        var t = Files.getLastModifiedTime(dir.resolve("par/r1/metrics.json"));
        assertEquals(Main.OK, Main.execute("sweep", "--plan", par.toString(), "--index", "1", "--workers", "2"));
        assertEquals(t, Files.getLastModifiedTime(dir.resolve("par/r1/metrics.json")));
    }

    @Test
    void badPlansNameTheLine() throws Exception {
        Path p = tmp.resolve("bad.jsonl");
        Files.writeString(p, "{\"data\": \"d\", \"checkpoint\": \"c\", \"out\": \"o\"}\n{\"data\": \"d\", \"checkpoint\": \"c\", \"out\": \"o\", \"recipe\": {\"lr\": -1}}\n");
        UserException e = assertThrows(UserException.class, () -> Plan.read(p));
        assertTrue(e.getMessage().startsWith(p + ":2: lr must be positive"), e.getMessage());
        Files.writeString(p, "{\"data\": \"d\", \"checkpoint\": \"c\", \"out\": \"o\", \"recipe\": {\"learning_rate\": 1}}\n");
        e = assertThrows(UserException.class, () -> Plan.read(p));
        assertTrue(e.getMessage().startsWith(p + ":1: unknown recipe field 'learning_rate'"), e.getMessage());
        Files.writeString(p, "{\"data\": \"d\", \"out\": \"o\"}\nnot json\n");
        e = assertThrows(UserException.class, () -> Plan.read(p));
        assertTrue(e.getMessage().startsWith(p + ":1: missing \"checkpoint\""), e.getMessage());
        Files.writeString(p, "{\"data\": \"d\", \"checkpoint\": \"c\", \"out\": \"o\"}\n");
        assertEquals(Main.BAD_INPUT, Main.execute("sweep", "--plan", p.toString(), "--index", "2", "--workers", "2"));
        assertTrue(Plan.mine(4, 0, 2) && Plan.mine(5, 1, 2) && !Plan.mine(5, 0, 2));
    }
}
