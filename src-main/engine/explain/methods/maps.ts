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

/** ReLU(Σ_k w_k A_k): the class activation map form most methods share. */
export function weightedSum(activation: Float32Array, shape: readonly [number, number, number], weights: ArrayLike<number>): RawMap {
  const [channels, height, width] = shape;
  const plane = height * width;
  const data = new Float32Array(plane);
  const sums = new Float64Array(plane);
  for (let k = 0; k < channels; k++) {
    const w = weights[k];
    if (w === 0) continue;
    const offset = k * plane;
    for (let p = 0; p < plane; p++) sums[p] += w * activation[offset + p];
  }
  for (let p = 0; p < plane; p++) data[p] = Math.max(0, sums[p]);
  return { width, height, data };
}

/** Per channel, the spatial sum of f(k, index). */
export function channelSums(shape: readonly [number, number, number], f: (index: number) => number): Float64Array {
  const [channels, height, width] = shape;
  const plane = height * width;
  const sums = new Float64Array(channels);
  for (let k = 0; k < channels; k++) {
    let s = 0;
    for (let p = k * plane; p < (k + 1) * plane; p++) s += f(p);
    sums[k] = s;
  }
  return sums;
}
