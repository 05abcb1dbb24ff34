// Shared shapes and helpers of the explanation methods: a stage's activations and gradients for one
// class, [C, H, W] row-major, and the [H, W] maps the methods produce (raw: not normalised, not upsampled).

export interface StageSlice {
  /** Activations A, C×H×W. */
  activation: Float32Array;
  /** ∂ score / ∂ A for one class, C×H×W. */
  gradient: Float32Array;
  shape: readonly [number, number, number];
}

export interface RawMap {
  width: number;
  height: number;
  data: Float32Array;
}

/**
 * ReLU(Σ_k w_k A_k): the class activation map form most methods share. Channels with a zero weight
 * are skipped; the rest are added four at a time, so the float64 sums are read and written a
 * quarter as often (ResNet-50's stages: ~8 → ~3 ms).
 */
export function weightedSum(activation: Float32Array, shape: readonly [number, number, number], weights: ArrayLike<number>): RawMap {
  const [channels, height, width] = shape;
  const plane = height * width;
  const used: number[] = [];
  for (let k = 0; k < channels; k++) if (weights[k] !== 0) used.push(k);
  const sums = new Float64Array(plane);
  let i = 0;
  for (; i + 3 < used.length; i += 4) {
    const w0 = weights[used[i]];
    const w1 = weights[used[i + 1]];
    const w2 = weights[used[i + 2]];
    const w3 = weights[used[i + 3]];
    const o0 = used[i] * plane;
    const o1 = used[i + 1] * plane;
    const o2 = used[i + 2] * plane;
    const o3 = used[i + 3] * plane;
    for (let p = 0; p < plane; p++) sums[p] += w0 * activation[o0 + p] + w1 * activation[o1 + p] + w2 * activation[o2 + p] + w3 * activation[o3 + p];
  }
  for (; i < used.length; i++) {
    const w = weights[used[i]];
    const offset = used[i] * plane;
    for (let p = 0; p < plane; p++) sums[p] += w * activation[offset + p];
  }
  const data = new Float32Array(plane);
  for (let p = 0; p < plane; p++) data[p] = Math.max(0, sums[p]);
  return { width, height, data };
}

// The per-channel sums below are plain loops, not one helper taking a callback per value: with
// several methods passing their own callbacks V8 stopped inlining it, and ResNet-50's 1.7 M values
// per stage set cost ~12 ms per Grad-CAM (a cached method switch took 30–90 ms, now a few).

/** Per channel, the spatial sum of `values`. */
export function channelSums(values: Float32Array, shape: readonly [number, number, number]): Float64Array {
  const [channels, height, width] = shape;
  const plane = height * width;
  const sums = new Float64Array(channels);
  for (let k = 0; k < channels; k++) {
    let s = 0;
    const end = (k + 1) * plane;
    for (let p = k * plane; p < end; p++) s += values[p];
    sums[k] = s;
  }
  return sums;
}

/** Per channel, the spatial sum of a ⊙ b. */
export function channelDots(a: Float32Array, b: Float32Array, shape: readonly [number, number, number]): Float64Array {
  const [channels, height, width] = shape;
  const plane = height * width;
  const sums = new Float64Array(channels);
  for (let k = 0; k < channels; k++) {
    let s = 0;
    const end = (k + 1) * plane;
    for (let p = k * plane; p < end; p++) s += a[p] * b[p];
    sums[k] = s;
  }
  return sums;
}
