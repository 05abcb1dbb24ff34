// Faithfulness of an importance map, measured rather than eyeballed: the deletion and insertion
// metrics of Petsiuk, Das & Saenko, "RISE: Randomized Input Sampling for Explanation of Black-box
// Models", BMVC 2018. Pixels are removed (deletion: replaced by the baseline, the all-zero normalised
// input = the mean colour) or revealed (insertion: onto a Gaussian-blurred copy, σ = 5 px as in the
// paper) in order of importance, in `steps` equal parts, and the class's softmax probability is
// re-classified in batches. A faithful map makes the deletion curve fall fast (low area) and the
// insertion curve rise fast (high area).
import type { Classifier } from '../infer/classifier.js';
import { softmax } from '../infer/topk.js';
import { upsample } from './methods/input-maps.js';
import type { RawMap } from './methods/maps.js';

export const FAITHFULNESS_STEPS = 16;
const BLUR_SIGMA = 5;

export interface FaithfulnessCurves {
  /** Fractions of pixels removed / revealed: 0, 1/steps, …, 1. */
  fractions: number[];
  deletion: number[];
  insertion: number[];
  deletionAuc: number;
  insertionAuc: number;
}

/** Trapezoid rule over [0, 1]. */
export function areaUnderCurve(xs: readonly number[], ys: readonly number[]): number {
  let area = 0;
  for (let i = 1; i < xs.length; i++) area += ((ys[i] + ys[i - 1]) / 2) * (xs[i] - xs[i - 1]);
  return area;
}

/** Separable Gaussian blur of each H×W plane of a [C,H,W] tensor, edges clamped. */
export function gaussianBlur(tensor: Float32Array, height: number, width: number, sigma = BLUR_SIGMA): Float32Array {
  const radius = Math.ceil(3 * sigma);
  const kernel = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)));
  const total = kernel.reduce((a, b) => a + b, 0);
  const weights = kernel.map((k) => k / total);
  const plane = height * width;
  const channels = tensor.length / plane;
  const temp = new Float32Array(plane);
  const out = new Float32Array(tensor.length);
  for (let c = 0; c < channels; c++) {
    const src = tensor.subarray(c * plane, (c + 1) * plane);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let s = 0;
        for (let k = -radius; k <= radius; k++) s += weights[k + radius] * src[y * width + Math.min(width - 1, Math.max(0, x + k))];
        temp[y * width + x] = s;
      }
    }
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let s = 0;
        for (let k = -radius; k <= radius; k++) s += weights[k + radius] * temp[Math.min(height - 1, Math.max(0, y + k)) * width + x];
        out[c * plane + y * width + x] = s;
      }
    }
  }
  return out;
}

/** Pixel indices by importance, most important first (ties: lower index first, for reproducibility). */
export function importanceOrder(map: RawMap, height: number, width: number): Uint32Array {
  const values = map.width === width && map.height === height ? map.data : upsample(map, width, height);
  const order = Uint32Array.from({ length: width * height }, (_, i) => i);
  return order.sort((a, b) => values[b] - values[a] || a - b);
}

/**
 * Deletion and insertion curves of `map` for class `target` on one preprocessed image: 2·(steps+1)
 * images classified in batches by the classifier's plain session.
 */
export async function faithfulness(
  classifier: Classifier,
  input: Float32Array,
  map: RawMap,
  target: number,
  steps = FAITHFULNESS_STEPS,
): Promise<FaithfulnessCurves> {
  const size = classifier.preprocessing.crop;
  const plane = size * size;
  const order = importanceOrder(map, size, size);
  const blurred = gaussianBlur(input, size, size);
  const count = steps + 1;
  const batch = new Float32Array(2 * count * input.length);
  for (let s = 0; s <= steps; s++) {
    const changed = Math.round((s / steps) * plane);
    const deletion = batch.subarray(s * input.length, (s + 1) * input.length);
    const insertion = batch.subarray((count + s) * input.length, (count + s + 1) * input.length);
    deletion.set(input);
    insertion.set(blurred);
    for (let r = 0; r < changed; r++) {
      const p = order[r];
      for (let c = 0; c < 3; c++) {
        deletion[c * plane + p] = 0;
        insertion[c * plane + p] = input[c * plane + p];
      }
    }
  }
  const probabilities: number[] = [];
  const perRun = Math.max(1, Math.min(classifier.maxRunBatch, 8));
  for (let first = 0; first < 2 * count; first += perRun) {
    const n = Math.min(perRun, 2 * count - first);
    const run = await classifier.run(batch.subarray(first * input.length, (first + n) * input.length), n);
    for (const logits of run.logits) probabilities.push(softmax(logits)[target]);
  }
  const fractions = Array.from({ length: count }, (_, s) => s / steps);
  const deletion = probabilities.slice(0, count);
  const insertion = probabilities.slice(count);
  return { fractions, deletion, insertion, deletionAuc: areaUnderCurve(fractions, deletion), insertionAuc: areaUnderCurve(fractions, insertion) };
}
