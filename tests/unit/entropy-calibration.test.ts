// Entropy (KL) calibration's threshold search (engine/quantize/entropy.ts) on distributions whose
// right clip is known: a long tail is clipped well inside its maximum, a compact distribution is
// kept whole, and the sign of a tensor decides between [0, T] and [−T, T].
import { describe, expect, it } from 'vitest';
import { HISTOGRAM_BINS, MagnitudeHistogram, bestThresholdBin } from '../../src-main/engine/quantize/entropy.js';

/** Deterministic pseudo-random numbers in [0, 1). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('entropy calibration', () => {
  it('clips a long-tailed (ReLU-of-Laplace-like) tensor far below its maximum', () => {
    const next = random(1);
    const values = new Float32Array(200_000);
    for (let i = 0; i < values.length; i++) values[i] = -Math.log(1 - next()); // exponential, mean 1
    values[0] = 40; // one outlier sets the histogram's top edge
    const histogram = new MagnitudeHistogram(40);
    histogram.add(values);
    const range = histogram.range();
    expect(range.min).toBe(0);
    // Most of the mass is under 5 (99.3%): the clip lands in the bulk's tail, not at the outlier.
    expect(range.max).toBeGreaterThan(3);
    expect(range.max).toBeLessThan(20);
  });

  it('keeps a compact (uniform) tensor whole', () => {
    const next = random(2);
    const values = Float32Array.from({ length: 100_000 }, () => next() * 6);
    const histogram = new MagnitudeHistogram(6);
    histogram.add(values);
    expect(histogram.range().max).toBeGreaterThan(5.7);
  });

  it('a tensor with negative values gets a symmetric clip within what was seen', () => {
    const next = random(3);
    const values = Float32Array.from({ length: 100_000 }, () => (next() - 0.5) * 2 * (next() < 0.999 ? 1 : 20));
    const histogram = new MagnitudeHistogram(20);
    histogram.add(values);
    const range = histogram.range();
    expect(range.min).toBeLessThan(0);
    expect(range.max).toBeGreaterThan(0);
    expect(-range.min).toBeCloseTo(Math.min(range.max, -histogram.min), 5);
    expect(range.max).toBeLessThan(10);
  });

  it('needs no clip when fewer bins are occupied than there are levels', () => {
    const counts = new Float64Array(HISTOGRAM_BINS);
    for (let i = 0; i < 100; i++) counts[i] = 1;
    expect(bestThresholdBin(counts, 128)).toBe(99);
  });

  it('an all-zero tensor keeps a zero range', () => {
    const histogram = new MagnitudeHistogram(0);
    histogram.add(new Float32Array(10));
    expect(histogram.range()).toEqual({ min: 0, max: 0 });
  });
});
