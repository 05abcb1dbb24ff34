// LayerCAM: Jiang et al., "LayerCAM: Exploring Hierarchical Class Activation Maps for Localization",
// IEEE TIP 2021. Each position weighted by its own positive gradient: map = ReLU(Σ_k ReLU(g^k) ⊙ A^k).
// Meant for every stage, not only the last: shallow stages keep fine detail.
import type { RawMap, StageSlice } from './maps.js';

export function layerCam({ activation, gradient, shape }: StageSlice): RawMap {
  const [channels, height, width] = shape;
  const plane = height * width;
  const sums = new Float64Array(plane);
  for (let k = 0; k < channels; k++) {
    for (let p = 0; p < plane; p++) {
      const g = gradient[k * plane + p];
      if (g > 0) sums[p] += g * activation[k * plane + p];
    }
  }
  return { width, height, data: Float32Array.from(sums, (v) => Math.max(0, v)) };
}
