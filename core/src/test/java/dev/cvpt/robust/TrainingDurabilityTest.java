package dev.cvpt.robust;

import dev.cvpt.cli.Main;
import dev.cvpt.io.Safetensors;
import dev.cvpt.train.Trainer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Training never loses finished work: an output folder that cannot be written, a write that fails
 * after some epochs (an obstacle in the run folder; a real full or read-only tmpfs where the machine
 * allows an unprivileged mount namespace), and a diverging loss all stop the run with one line that
 * names the file or the step, and leave the last saved state loadable, so that --resume finishes the run.
 */
class TrainingDurabilityTest {
    @TempDir Path tmp;

    private List<String> train(Path out, String... extra) {
        List<String> a = new ArrayList<>(List.of("train", "--data", Fixtures.data().toString(), "--checkpoint", Fixtures.micro("npz").toString(),
                "--out", out.toString(), "--method", "cvpt", "--prompts", "5", "--batch", "16", "--threads", "1", "--no-progress"));
        a.addAll(List.of(extra));
        return a;
    }

    private static int savedEpoch(Path run) {
        return Integer.parseInt(Safetensors.read(run.resolve(Trainer.STATE)).metadata().get("epoch"));
    }

    private static List<String> leftovers(Path run) throws IOException {
        try (Stream<Path> s = Files.list(run)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".tmp")).toList();
        }
    }

    @Test
    @Timeout(120)
    void unwritableOutputFoldersAreRefusedBeforeTraining() throws IOException {
        Path file = Files.writeString(tmp.resolve("a-file"), "x");
        Cli.Run r = Cli.fails(2, train(file, "--epochs", "1").toArray(String[]::new), "a-file", "cannot write to the run folder");
        Cli.record("train", "--out is a regular file", r);
        r = Cli.fails(2, train(file.resolve("sub"), "--epochs", "1").toArray(String[]::new), "a-file/sub", "cannot write to the run folder");
        Cli.record("train", "--out below a regular file", r);
        r = Cli.fails(2, train(Path.of("/proc/cvpt-run"), "--epochs", "1").toArray(String[]::new), "/proc/cvpt-run", "cannot write to the run folder");
        Cli.record("train", "--out under /proc (not writable, even for root)", r);
    }

    /** A broken checkpoint or dataset stops the run before its folder is made: nothing is left behind. */
    @Test
    @Timeout(120)
    void badInputsLeaveNoRunFolder() throws IOException {
        Path bad = Files.write(tmp.resolve("bad.safetensors"), new byte[]{1, 2, 3});
        Path run = tmp.resolve("never");
        List<String> a = train(run, "--epochs", "1");
        a.set(a.indexOf("--checkpoint") + 1, bad.toString());
        Cli.fails(2, a.toArray(String[]::new), "bad.safetensors");
        assertFalse(Files.exists(run), "an empty run folder was left behind");
        List<String> b = train(run, "--epochs", "1");
        b.set(b.indexOf("--data") + 1, tmp.resolve("no-such-data").toString());
        Cli.fails(2, b.toArray(String[]::new), "no-such-data");
        assertFalse(Files.exists(run), "an empty run folder was left behind");
    }

    @Test
    @Timeout(180)
    void aWriteThatFailsMidRunKeepsTheLastStateAndResumeFinishes() throws IOException {
        Path run = tmp.resolve("obstacle");
        // metrics.csv is a non-empty folder: the first epoch's state is saved, then its metrics cannot be renamed into place
        Files.createDirectories(run.resolve("metrics.csv/blocker"));
        Cli.Run r = Cli.run(train(run, "--epochs", "3").toArray(String[]::new));
        Cli.assertFailsCleanly(r, 2, "metrics.csv", "the last finished epoch is saved in " + run.toAbsolutePath().resolve(Trainer.STATE),
                "--resume");
        Cli.record("train", "metrics.csv cannot be written after epoch 1", r);
        assertEquals(0, savedEpoch(run));
        assertEquals(List.of(), leftovers(run));
        Fixtures.deleteTree(run.resolve("metrics.csv"));
        Cli.Run resumed = Cli.run("train", "--resume", run.toString(), "--threads", "1", "--no-progress");
        assertEquals(0, resumed.rc(), resumed.toString());
        assertEquals(2, savedEpoch(run));
        assertTrue(Files.exists(run.resolve("disk.safetensors")));
    }

    @Test
    @Timeout(120)
    void aDivergingLossNamesTheStepTheLrAndTheLastGoodState() {
        // epochs 1 and 2 train at the warmup lr (1e-6), epoch 3 at the cosine value 9.05e29
        Path run = tmp.resolve("nan");
        Cli.Run r = Cli.run(train(run, "--epochs", "5", "--lr", "1e30", "--warmup", "1").toArray(String[]::new));
        Cli.assertFailsCleanly(r, Main.FAILED, "at epoch 3, step 10", "(lr 9.05e+29)", "the last good training state is "
                + run.toAbsolutePath().resolve(Trainer.STATE), "--resume");
        assertTrue(r.message().matches("(?s).*the loss became (NaN|Infinity|-Infinity) at epoch 3.*"), r.toString());
        assertEquals(1, savedEpoch(run));
        Cli.record("train", "--lr 1e30 --warmup 1: loss diverges in epoch 3", r);

        Path first = tmp.resolve("nan0");
        r = Cli.run(train(first, "--epochs", "2", "--lr", "1e30", "--warmup", "0").toArray(String[]::new));
        Cli.assertFailsCleanly(r, Main.FAILED, "at epoch 1, step", "(lr 1.00e+30)", "none (it diverged in the first epoch)");
        assertFalse(Files.exists(first.resolve(Trainer.STATE)));
        Cli.record("train", "--lr 1e30 --warmup 0: loss diverges in epoch 1", r);
    }

    // ------------------------------------------------------------ a real full / read-only file system

    /** Whether this machine lets an unprivileged process mount a tmpfs in its own namespace. */
    private static boolean canMountTmpfs(Path probe) {
        try {
            Files.createDirectories(probe);
            Process p = new ProcessBuilder("unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs '" + probe + "'")
                    .redirectErrorStream(true).start();
            return p.waitFor(20, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    /**
     * Trains in another JVM whose run folder is a 4 MB tmpfs; once two epochs are saved, {@code breakIt}
     * (a shell command) fills the disk or makes it read-only. Returns the run folder, copied out, and the log.
     */
    private Path[] runOnTmpfs(String name, String breakIt) throws Exception {
        Path mnt = tmp.resolve(name + "-mnt"), copy = tmp.resolve(name + "-run"), log = tmp.resolve(name + ".log"), rc = tmp.resolve(name + ".rc");
        Assumptions.assumeTrue(canMountTmpfs(tmp.resolve("probe")), "no unprivileged tmpfs mount here (unshare -rm)");
        List<String> java = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        java.addAll(train(mnt.resolve("run"), "--epochs", "40", "--eval-every", "100"));
        StringBuilder cmd = new StringBuilder();
        for (String a : java) cmd.append('\'').append(a.replace("'", "'\\''")).append("' ");
        String script = String.join("\n",
                "set -u",
                "mkdir -p '" + mnt + "' && mount -t tmpfs -o size=4m tmpfs '" + mnt + "' || exit 99",
                cmd + " > '" + log + "' 2>&1 &",
                "pid=$!",
                "n=0; while kill -0 $pid 2>/dev/null; do n=$(cat '" + mnt + "/run/metrics.csv' 2>/dev/null | wc -l); [ \"$n\" -ge 3 ] && break; sleep 0.02; done",
                breakIt,
                "wait $pid; echo $? > '" + rc + "'",
                "cp -a '" + mnt + "/run' '" + copy + "'");
        Process p = new ProcessBuilder("unshare", "-rm", "sh", "-c", script).redirectErrorStream(true)
                .redirectOutput(tmp.resolve(name + ".sh.log").toFile()).start();
        assertTrue(p.waitFor(150, TimeUnit.SECONDS), "the tmpfs run did not finish");
        assertEquals(0, p.exitValue(), Files.readString(tmp.resolve(name + ".sh.log")) + Files.readString(log));
        return new Path[]{copy, log, rc};
    }

    private void checkStoppedCleanly(String name, String breakIt, String reason) throws Exception {
        Path[] r = runOnTmpfs(name, breakIt);
        Path run = r[0];
        String log = Files.readString(r[1]);
        int rc = Integer.parseInt(Files.readString(r[2]).strip());
        Cli.Run asRun = new Cli.Run(List.of("train", "... (on a tmpfs, " + name + " after epoch 2)"), rc, "", log);
        Cli.assertFailsCleanly(asRun, 2, reason, "/run/");
        Cli.record("train", "tmpfs " + name + " after 2 epochs", asRun);
        int epoch = savedEpoch(run);
        assertTrue(epoch >= 1 && epoch < 39, "saved epoch " + epoch);
        assertEquals(List.of(), leftovers(run), "temporary files left behind");
        // the saved state is complete: the run continues from it and finishes (in a writable folder)
        Path moved = tmp.resolve(name + "-resumed");
        Files.move(run, moved);
        Cli.Run resumed = Cli.run("train", "--resume", moved.toString(), "--threads", "1", "--no-progress");
        assertEquals(0, resumed.rc(), resumed.toString());
        assertTrue(resumed.err().contains("at epoch " + (epoch + 2) + "/40"), resumed.err());
        assertTrue(Files.exists(moved.resolve("disk.safetensors")));
    }

    @Test
    @Timeout(300)
    void aFullDiskStopsTheRunAndKeepsTheLastState() throws Exception {
        checkStoppedCleanly("full", "dd if=/dev/zero of=\"$(dirname \"$(ls -d '" + tmp + "'/full-mnt/run)\")/fill\" bs=64k 2>/dev/null; true",
                "No space left on device");
    }

    @Test
    @Timeout(300)
    void aFolderTurnedReadOnlyStopsTheRunAndKeepsTheLastState() throws Exception {
        checkStoppedCleanly("readonly", "mount -o remount,ro '" + tmp.resolve("readonly-mnt") + "'", "Read-only file system");
    }
}
