package dev.cvpt.train;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cvpt.UserException;
import dev.cvpt.cli.Main;
import dev.cvpt.demo.Demo;
import dev.cvpt.synth.SyntheticTasks;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** cvpt tune: the protocol's runs and table, its tie rule, and a kill -9 in the middle that changes nothing. */
class TuneTest {
    @TempDir static Path tmp;
    static Path data, ckpt;

    @BeforeAll
    static void setUp() throws Exception {
        data = SyntheticTasks.write(tmp, "disk", 32, 7, 64, 32, 64, 2);   // train800 64, val200 32, test 64
        ckpt = Demo.shippedBackbone(tmp);
    }

    static List<String> args(Path out) {
        return new ArrayList<>(List.of("tune", "--data", data.toString(), "--checkpoint", ckpt.toString(), "--out", out.toString(),
                "--method", "cvpt", "--prompts", "4", "--grid", "lr=2e-2,5e-3,wd=0.01,0", "--seeds", "2",
                "--epochs", "4", "--batch", "16", "--warmup", "1", "--eval-every", "2", "--threads", "1", "--no-progress"));
    }

    @Test
    void tunesAndResumesAfterKill() throws Exception {
        Path u = tmp.resolve("unbroken");
        assertEquals(Main.OK, Main.execute(args(u).toArray(String[]::new)));
        JsonNode t = TaskFile.JSON.readTree(Files.readString(u.resolve("tune.json")));
        assertTrue(t.get("complete").asBoolean());
        assertEquals(4 + 2, t.get("runs").size());
        // the winner is the trial with the highest val top-1 (ties as the rule says), and the finals use it
        List<Tune.Trial> trials = new ArrayList<>();
        for (JsonNode r : t.get("runs"))
            if (r.get("run").asText().equals("trial"))
                trials.add(new Tune.Trial(new Grid.Point(r.get("lr").asDouble(), r.get("wd").asDouble(), null), r.get("val_top1").asDouble(), r.get("dir").asText()));
        Grid.Point best = Tune.choose(trials);
        assertEquals(best.lr(), t.get("chosen").get("lr").asDouble());
        assertEquals(best.wd(), t.get("chosen").get("wd").asDouble());
        // trials train on train800 and score val200; finals train on train800val200 with seeds 42 and 44
        JsonNode run0 = TaskFile.JSON.readTree(Files.readString(u.resolve("trials/lr0.02_wd0.01/run.json")));
        assertTrue(run0.get("select_on_val").asBoolean());
        JsonNode fin = TaskFile.JSON.readTree(Files.readString(u.resolve("final/seed44/run.json")));
        assertFalse(fin.get("select_on_val").asBoolean());
        assertEquals(44, fin.get("recipe").get("seed").asInt());
        assertEquals(best.lr(), fin.get("recipe").get("lr").asDouble());
        double a = t.get("test_top1_per_seed").get(0).asDouble(), b = t.get("test_top1_per_seed").get(1).asDouble();
        assertEquals(TaskFile.JSON.readTree(Files.readString(u.resolve("final/seed42/metrics.json"))).get("test_top1").asDouble(), a);
        assertEquals((a + b) / 2, t.get("test_top1_mean").asDouble(), 1e-9);
        assertEquals(Math.abs(a - b) / Math.sqrt(2), t.get("test_top1_std").asDouble(), 1e-9);
        assertTrue(t.get("test_top1_mean").asDouble() > 60, "the tuned CVPT learns the disk colour: " + t);

        // the same tune in a child JVM, killed (SIGKILL) during the second trial, then run again
        Path k = tmp.resolve("killed");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xss4m",
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(args(k));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve("killed.log").toFile());
        pb.environment().put("OPENBLAS_NUM_THREADS", "1");
        Process p = pb.start();
        Path second = k.resolve("trials/lr0.02_wd0").resolve(Trainer.STATE);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (p.isAlive() && System.nanoTime() < deadline && TrainResumeTest.savedEpoch(second) < 1) Thread.sleep(5);
        assertTrue(p.isAlive(), "the tune ended before it could be killed: " + Files.readString(tmp.resolve("killed.log")));
        p.destroyForcibly().waitFor();
        assertFalse(Runs.done(k.resolve("trials/lr0.02_wd0")));
        Path firstMetrics = k.resolve("trials/lr0.02_wd0.01/metrics.json");
        FileTime before = Files.getLastModifiedTime(firstMetrics);

        assertEquals(Main.OK, Main.execute(args(k).toArray(String[]::new)));
        assertEquals(before, Files.getLastModifiedTime(firstMetrics), "the finished trial is not run again");
        assertEquals(Files.readString(u.resolve("tune.md")), Files.readString(k.resolve("tune.md")));
        assertEquals(Files.readString(u.resolve("tune.csv")), Files.readString(k.resolve("tune.csv")));
    }

    @Test
    void suiteTunesEachTask() throws Exception {
        Path root = tmp.resolve("vtab");
        Files.createDirectories(root);
        Files.move(SyntheticTasks.write(tmp.resolve("s"), "disk", 32, 8, 48, 16, 32, 2), root.resolve("svhn"));
        Path out = tmp.resolve("suite");
        assertEquals(Main.OK, Main.execute("suite", "--data", root.toString(), "--checkpoint", ckpt.toString(), "--out", out.toString(),
                "--tune", "--grid", "lr=2e-2,wd=0", "--seeds", "1", "--prompts", "3", "--epochs", "2", "--batch", "16", "--warmup", "0",
                "--eval-every", "2", "--threads", "1", "--no-progress"));
        JsonNode t = TaskFile.JSON.readTree(Files.readString(out.resolve("svhn/tune.json")));
        JsonNode s = TaskFile.JSON.readTree(Files.readString(out.resolve("suite.json")));
        assertEquals("svhn", s.get("tasks").get(0).get("task").asText());
        assertEquals(t.get("test_top1_mean").asDouble(), s.get("tasks").get(0).get("test_top1").asDouble());
        assertTrue(s.get("method").asText().contains("tuned on val200"), s.toString());
        assertEquals(3, TaskFile.JSON.readTree(Files.readString(out.resolve("svhn/final/seed42/run.json"))).get("prompts").asInt());
    }

    @Test
    void tieRuleAndGrid() {
        Grid.Point a = new Grid.Point(1e-2, 0.0, null), b = new Grid.Point(1e-3, 1e-2, null), c = new Grid.Point(1e-3, 1e-4, null);
        assertEquals(c, Tune.choose(List.of(new Tune.Trial(a, 90, ""), new Tune.Trial(b, 90, ""), new Tune.Trial(c, 90, ""))),
                "ties: lowest lr, then lowest wd");
        assertEquals(a, Tune.choose(List.of(new Tune.Trial(a, 91, ""), new Tune.Trial(c, 90, ""))));
        Grid g = Grid.parse("lr=5e-3,1e-3,wd=0.01,0,prompts=5,10");
        assertEquals(List.of(5e-3, 1e-3), g.lrs());
        assertEquals(List.of(0.01, 0.0), g.wds());
        assertEquals(8, g.points().size());
        assertEquals("lr0.005_wd0_p10", g.points().get(3).folder());
        assertEquals(Grid.DEFAULT_WDS, Grid.parse("lr=1e-3").wds());
        assertThrows(UserException.class, () -> Grid.parse("lr=1e-3,mom=0.9"));
        assertThrows(UserException.class, () -> Grid.parse("lr=abc"));
        assertThrows(UserException.class, () -> Grid.parse("1e-3"));
        assertEquals(Main.BAD_INPUT, Main.execute("tune", "--data", data.toString(), "--checkpoint", ckpt.toString(),
                "--out", tmp.resolve("bad").toString(), "--grid", "lr=-1"));
        assertEquals(Tune.std(new double[]{1, 3}), Math.sqrt(2), 1e-12);
    }
}
