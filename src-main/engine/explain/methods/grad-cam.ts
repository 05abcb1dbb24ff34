// Grad-CAM: Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based
// Localization", ICCV 2017. α_k = (1/HW) Σ_ij ∂y^c/∂A^k_ij; map = ReLU(Σ_k α_k A^k).
import { type RawMap, type StageSlice, channelSums, weightedSum } from './maps.js';

export function gradCam({ activation, gradient, shape }: StageSlice): RawMap {
  const plane = shape[1] * shape[2];
  const alpha = channelSums(gradient, shape).map((s) => s / plane);
  return weightedSum(activation, shape, alpha);
}
