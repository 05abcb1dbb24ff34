// HiResCAM: Draelos & Carin, "Use HiResCAM instead of Grad-CAM for faithful explanations of
// convolutional neural networks", 2020 (arXiv:2011.08891). The gradient multiplies the activations
// elementwise instead of being averaged first: map = ReLU(Σ_k g^k ⊙ A^k). For a global-pool +
// fully-connected head at the last stage the gradient is w_ck/HW at every position, so HiResCAM,
// Grad-CAM and ReLU(CAM)/HW are the same map there; they part at earlier stages.
import type { RawMap, StageSlice } from './maps.js';

export function hiResCam({ activation, gradient, shape }: StageSlice): RawMap {
  const [channels, height, width] = shape;
  const plane = height * width;
  const sums = new Float64Array(plane);
  for (let k = 0; k < channels; k++) for (let p = 0; p < plane; p++) sums[p] += gradient[k * plane + p] * activation[k * plane + p];
  return { width, height, data: Float32Array.from(sums, (v) => Math.max(0, v)) };
}
