package dev.cvpt.synth;

/** A synthetic task: its name (also its folder name), number of classes and a one-line description. */
public record TaskSpec(String name, int classes, String description) {}
