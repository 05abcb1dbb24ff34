// Grad-CAM++: Chattopadhay et al., "Grad-CAM++: Improved Visual Explanations for Deep Convolutional
// Networks", WACV 2018, with the closed form of their eq. 19 for an exponential of the score (the
// form pytorch-grad-cam uses): a^k_ij = g² / (2g² + Σ_ab A^k_ab · g³), 0 where g = 0;
// w_k = Σ_ij a^k_ij · ReLU(g^k_ij); map = ReLU(Σ_k w_k A^k).
import { type RawMap, type StageSlice, channelSums, weightedSum } from './maps.js';

/** Keeps the denominator away from zero, as pytorch-grad-cam does. */
const EPSILON = 1e-7;

export function gradCamPlusPlus({ activation, gradient, shape }: StageSlice): RawMap {
  const [channels, height, width] = shape;
  const plane = height * width;
  const activationSums = channelSums(activation, shape);
  const weights = new Float64Array(channels);
  for (let k = 0; k < channels; k++) {
    const sum = activationSums[k];
    let w = 0;
    const end = (k + 1) * plane;
    for (let i = k * plane; i < end; i++) {
      const g = gradient[i];
      if (g <= 0) continue; // ReLU(g) = 0: no weight (and a^k_ij is 0 where g = 0)
      const g2 = g * g;
      w += (g2 / (2 * g2 + sum * g2 * g + EPSILON)) * g;
    }
    weights[k] = w;
  }
  return weightedSum(activation, shape, weights);
}
