package dev.cvpt.data;

import java.nio.file.Path;

/** One image and its class; {@code source} says where it was listed ({@code file:line}), for messages. */
public record Sample(Path path, int label, String source) {}
