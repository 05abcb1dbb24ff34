// Grad-CAM++: Chattopadhay et al., "Grad-CAM++: Improved Visual Explanations for Deep Convolutional
// Networks", WACV 2018, with the closed form of their eq. 19 for an exponential of the score (the
// form pytorch-grad-cam uses): a^k_ij = g² / (2g² + Σ_ab A^k_ab · g³), 0 where g = 0;
// w_k = Σ_ij a^k_ij · ReLU(g^k_ij); map = ReLU(Σ_k w_k A^k).
import { type RawMap, type StageSlice, channelSums, weightedSum } from './maps.js';

/** Keeps the denominator away from zero, as pytorch-grad-cam does. */
const EPSILON = 1e-7;

export function gradCamPlusPlus({ activation, gradient, shape }: StageSlice): RawMap {
  const plane = shape[1] * shape[2];
  const activationSums = channelSums(shape, (i) => activation[i]);
  const weights = channelSums(shape, (i) => {
    const g = gradient[i];
    if (g === 0) return 0;
    const g2 = g * g;
    const sum = activationSums[Math.floor(i / plane)];
    const a = g2 / (2 * g2 + sum * g2 * g + EPSILON);
    return a * Math.max(0, g);
  });
  return weightedSum(activation, shape, weights);
}
