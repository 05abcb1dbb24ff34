// Guided Grad-CAM: Selvaraju et al. 2017 (section 3.1): guided backpropagation multiplied pointwise by
// the Grad-CAM map of the last stage upsampled to the input's size: fine detail where the class is.
import { channelMaxAbs, upsample } from './input-maps.js';
import type { RawMap } from './maps.js';

/** [3,H,W] guided gradient × upsampled Grad-CAM, and its channel-max map. */
export function guidedGradCam(guidedGradient: Float32Array, cam: RawMap, height: number, width: number): { attribution: Float32Array; map: RawMap } {
  const plane = height * width;
  const scale = upsample(cam, width, height);
  const attribution = new Float32Array(guidedGradient.length);
  for (let i = 0; i < attribution.length; i++) attribution[i] = guidedGradient[i] * scale[i % plane];
  return { attribution, map: channelMaxAbs(attribution, height, width) };
}
