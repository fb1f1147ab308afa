package dev.cvpt;

/**
 * A problem with what the user gave us (a file, a flag, a dataset), as opposed to a bug. The command
 * line prints its message as one line, without a stack trace (unless --debug), and exits with 2.
 */
public class UserException extends RuntimeException {
    public UserException(String message) { super(message); }

    public UserException(String message, Throwable cause) { super(message, cause); }
}
