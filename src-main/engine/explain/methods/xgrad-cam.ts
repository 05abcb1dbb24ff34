// XGrad-CAM: Fu et al., "Axiom-based Grad-CAM: Towards Accurate Visualization and Explanation of
// CNNs", BMVC 2020. w_k = Σ_ij (A^k_ij / Σ_ab A^k_ab) · ∂y^c/∂A^k_ij; map = ReLU(Σ_k w_k A^k).
import { type RawMap, type StageSlice, channelDots, channelSums, weightedSum } from './maps.js';

const EPSILON = 1e-7;

export function xGradCam({ activation, gradient, shape }: StageSlice): RawMap {
  const sums = channelSums(activation, shape);
  const products = channelDots(activation, gradient, shape);
  return weightedSum(
    activation,
    shape,
    products.map((p, k) => p / (sums[k] + EPSILON)),
  );
}
