// Entropy (KL-divergence) calibration, as TensorRT introduced it for int8 inference (Migacz, "8-bit
// Inference with TensorRT", GTC 2017) and onnxruntime's quantisation tool implements it: a tensor's
// values over all calibration photos go into a fine histogram, and the range is clipped at the
// threshold whose 8-bit version of the histogram loses the least information (smallest KL
// divergence from the clipped original). Unlike a fixed percentile, the clip adapts to each
// tensor's shape: long-tailed activations are clipped hard, compact ones hardly at all.
import type { Range } from './qdq-graph.js';

/** Histogram bins over [0, max |x|]: fine enough that 8-bit levels span several bins each. */
export const HISTOGRAM_BINS = 2048;

/** One tensor's |x| histogram over all photos, plus the signed extremes seen. */
export class MagnitudeHistogram {
  readonly counts = new Float64Array(HISTOGRAM_BINS);
  min = Infinity;
  max = -Infinity;

  /** `limit`: the largest |x| over all photos (a first pass measures it), the histogram's top edge. */
  constructor(readonly limit: number) {}

  add(values: Float32Array): void {
    const scale = this.limit > 0 ? HISTOGRAM_BINS / this.limit : 0;
    const counts = this.counts;
    let min = this.min;
    let max = this.max;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v < min) min = v;
      if (v > max) max = v;
      const bin = Math.floor((v < 0 ? -v : v) * scale);
      counts[bin >= HISTOGRAM_BINS ? HISTOGRAM_BINS - 1 : bin]++;
    }
    this.min = min;
    this.max = max;
  }

  /** The clipped range: [0, T] for a tensor that is never negative, else [−T, T] within what was seen. */
  range(): Range {
    if (!(this.limit > 0)) return { min: Math.min(0, this.min), max: Math.max(0, this.max) };
    // A non-negative tensor spends all 256 levels of uint8 on [0, T]; a signed one half of them on each side.
    const levels = this.min >= 0 ? 255 : 128;
    const threshold = ((bestThresholdBin(this.counts, levels) + 0.5) * this.limit) / HISTOGRAM_BINS;
    return this.min >= 0 ? { min: 0, max: Math.min(this.max, threshold) } : { min: Math.max(this.min, -threshold), max: Math.min(this.max, threshold) };
  }
}

/**
 * The bin index i (clip at the top edge of bin i) minimising KL(P‖Q): P the histogram clipped at
 * i with the outliers added to its last bin, Q the clipped histogram merged into `levels` groups
 * (the remainder into the last) and spread back evenly over the bins where P is non-zero. As in
 * onnxruntime's quantisation tool, bins where Q is empty but P is not get a small probability
 * (1e-4 of a bin's share) rather than an infinite divergence.
 */
export function bestThresholdBin(counts: Float64Array, levels: number): number {
  const bins = counts.length;
  let last = bins - 1;
  while (last > 0 && counts[last] === 0) last--;
  if (last < levels) return last; // fewer occupied bins than levels: nothing needs clipping
  const beyond = new Float64Array(bins + 1); // beyond[i] = Σ counts[i..]
  for (let i = bins - 1; i >= 0; i--) beyond[i] = beyond[i + 1] + counts[i];
  const q = new Float64Array(bins);
  let bestBin = last;
  let bestKl = Infinity;
  for (let edge = levels; edge <= last + 1; edge++) {
    const merged = Math.floor(edge / levels);
    const pLast = counts[edge - 1] + beyond[edge];
    const pAt = (i: number): number => (i === edge - 1 ? pLast : counts[i]);
    for (let level = 0; level < levels; level++) {
      const start = level * merged;
      const end = level === levels - 1 ? edge : start + merged;
      let sum = 0;
      let occupied = 0;
      for (let i = start; i < end; i++) {
        sum += counts[i];
        if (pAt(i) > 0) occupied++;
      }
      const share = occupied > 0 ? sum / occupied : 0;
      for (let i = start; i < end; i++) q[i] = pAt(i) > 0 ? share : 0;
    }
    // Both normalised over the same total: the clipped histogram keeps every count.
    const total = beyond[0];
    let qTotal = 0;
    for (let i = 0; i < edge; i++) qTotal += q[i];
    let kl = 0;
    for (let i = 0; i < edge; i++) {
      const pi = pAt(i) / total;
      if (pi === 0) continue;
      const qi = Math.max(q[i] / Math.max(qTotal, 1e-300), 1e-4 / edge);
      kl += pi * Math.log(pi / qi);
    }
    if (kl < bestKl) {
      bestKl = kl;
      bestBin = edge - 1;
    }
  }
  return bestBin;
}
