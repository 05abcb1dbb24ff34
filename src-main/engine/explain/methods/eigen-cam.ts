// EigenCAM: Muhammad & Yeasin, "Eigen-CAM: Class Activation Map using Principal Components", IJCNN
// 2020. Forward only (no gradient, not class-specific): the activations as an HW×C matrix, centred
// per channel, projected on their first principal direction (power iteration on AᵀA: 64 iterations
// converge to float precision for the spectra seen on ResNet stages). The sign of a principal
// direction is arbitrary; it is chosen so the map's sum is positive, then ReLU as pytorch-grad-cam.
import type { RawMap } from './maps.js';

const ITERATIONS = 64;

export function eigenCam(activation: Float32Array, shape: readonly [number, number, number]): RawMap {
  const [channels, height, width] = shape;
  const plane = height * width;
  // Centre each channel over positions (the SVD of the centred matrix is the PCA).
  const centred = new Float64Array(activation.length);
  for (let k = 0; k < channels; k++) {
    let mean = 0;
    for (let p = 0; p < plane; p++) mean += activation[k * plane + p];
    mean /= plane;
    for (let p = 0; p < plane; p++) centred[k * plane + p] = activation[k * plane + p] - mean;
  }
  // v ∈ R^C, u = M v ∈ R^HW (M[p][k] = centred[k·plane + p]).
  let v = new Float64Array(channels).fill(1 / Math.sqrt(channels));
  const u = new Float64Array(plane);
  for (let it = 0; it < ITERATIONS; it++) {
    u.fill(0);
    for (let k = 0; k < channels; k++) {
      const vk = v[k];
      if (vk === 0) continue;
      for (let p = 0; p < plane; p++) u[p] += centred[k * plane + p] * vk;
    }
    const next = new Float64Array(channels);
    let norm = 0;
    for (let k = 0; k < channels; k++) {
      let s = 0;
      for (let p = 0; p < plane; p++) s += centred[k * plane + p] * u[p];
      next[k] = s;
      norm += s * s;
    }
    norm = Math.sqrt(norm);
    if (norm === 0) break;
    v = next.map((x) => x / norm);
  }
  const projection = new Float64Array(plane);
  for (let k = 0; k < channels; k++) for (let p = 0; p < plane; p++) projection[p] += centred[k * plane + p] * v[k];
  let sum = 0;
  for (const x of projection) sum += x;
  const sign = sum < 0 ? -1 : 1;
  return { width, height, data: Float32Array.from(projection, (x) => Math.max(0, sign * x)) };
}
