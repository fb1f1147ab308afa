package dev.cvpt.synth;

import java.awt.image.BufferedImage;

/** One rendered image (TYPE_INT_RGB, size x size) and its label. */
public record Sample(BufferedImage image, int label) {}
