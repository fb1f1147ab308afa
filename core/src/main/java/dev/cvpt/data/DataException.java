package dev.cvpt.data;

import dev.cvpt.UserException;

import java.util.List;

/**
 * A dataset that cannot be used as it is. The message lists every problem found, one per line as
 * {@code file:line: reason}, so a user can fix them all in one go.
 */
public class DataException extends UserException {
    private final List<String> problems;

    public DataException(String summary, List<String> problems) {
        super(format(summary, problems));
        this.problems = List.copyOf(problems);
    }

    public List<String> problems() { return problems; }

    private static String format(String summary, List<String> problems) {
        StringBuilder sb = new StringBuilder(summary);
        if (!problems.isEmpty()) sb.append(" (").append(problems.size()).append(problems.size() == 1 ? " problem" : " problems")
                .append("; use --skip-bad to leave bad samples out):");
        for (String p : problems) sb.append("\n  ").append(p);
        return sb.toString();
    }
}
