package dev.cvpt.robust;

import dev.cvpt.cli.Main;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Runs the command-line tool in-process ({@link Main#execute}) with stdout and stderr captured, and
 * checks what a failure must look like: exit 1 or 2, exactly one {@code cvpt: ...} line that names
 * the file, no stack trace unless --debug.
 */
final class Cli {
    private Cli() {}

    /** What one run gave. */
    record Run(List<String> args, int rc, String out, String err) {
        /** The lines of stderr that come from Main's error handler. */
        List<String> errorLines() {
            return err.lines().filter(l -> l.startsWith("cvpt: error: ") || l.startsWith("cvpt: failed: ")).toList();
        }

        boolean hasStackTrace() {
            return err.lines().anyMatch(l -> l.startsWith("\tat ") || l.contains("Exception in thread"))
                    || out.lines().anyMatch(l -> l.startsWith("\tat "));
        }

        /** The message Main printed: the cvpt: line and, for dataset problems, the indented list under it. */
        String message() {
            List<String> lines = err.lines().toList();
            StringBuilder sb = new StringBuilder();
            boolean in = false;
            for (String l : lines) {
                if (l.startsWith("cvpt: error: ") || l.startsWith("cvpt: failed: ")) in = true;
                else if (in && !l.startsWith("  ")) in = false;
                if (in) sb.append(l).append('\n');
            }
            return sb.toString();
        }

        @Override
        public String toString() {
            return "cvpt " + String.join(" ", args) + "\n  -> exit " + rc + "\n  stderr: " + err.strip().replace("\n", "\n          ");
        }
    }

    static synchronized Run run(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int rc;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            rc = Main.execute(args);
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
        return new Run(List.of(args), rc, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /**
     * Runs a command that must fail cleanly: exit {@code expectedRc} (1 or 2; 0 = either), exactly one
     * cvpt: line, which contains every fragment (the first is usually the file name), no stack trace,
     * and no JVM error. Then the same with --debug, which must show a stack trace.
     */
    static Run fails(int expectedRc, String[] args, String... fragments) {
        Run r = run(args);
        assertFailsCleanly(r, expectedRc, fragments);
        List<String> dbg = new ArrayList<>(Arrays.asList(args));
        dbg.add("--debug");
        Run d = run(dbg.toArray(String[]::new));
        assertEquals(r.rc(), d.rc(), "--debug changed the exit code: " + d);
        assertTrue(d.err().contains("\tat dev.cvpt."), "--debug shows no stack trace: " + d);
        return r;
    }

    /** One row of the case table, printed so that the test log lists every case and its outcome. */
    static void record(String command, String caseName, Run r) {
        String first = r.err().lines().filter(l -> l.startsWith("cvpt: ")).findFirst().orElse("(no cvpt: line)");
        System.out.println("ROBUST| " + command + " | " + caseName + " | exit " + r.rc() + " | " + first.replace("|", "\\|"));
    }

    static void assertFailsCleanly(Run r, int expectedRc, String... fragments) {
        if (expectedRc == 0) assertTrue(r.rc() == Main.FAILED || r.rc() == Main.BAD_INPUT, "exit code: " + r);
        else assertEquals(expectedRc, r.rc(), "exit code: " + r);
        assertEquals(1, r.errorLines().size(), "want exactly one cvpt: line: " + r);
        assertFalse(r.hasStackTrace(), "stack trace without --debug: " + r);
        String m = r.message();
        for (String f : fragments) assertTrue(m.contains(f), "message lacks '" + f + "': " + r);
    }
}
