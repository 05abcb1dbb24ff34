// Input-level attributions as maps at the input's resolution: Saliency (Simonyan et al., "Deep
// Inside Convolutional Networks: Visualising Image Classification Models and Saliency Maps", ICLR
// workshop 2014) is max_c |∂y^c/∂x|; guided backprop (Springenberg et al., "Striving for Simplicity:
// The All Convolutional Net", ICLR workshop 2015) and the other input attributions are shown the same
// way, as the largest magnitude over the colour channels.
import type { RawMap } from './maps.js';

/** max over channels of |x|, for a [3,H,W] attribution. */
export function channelMaxAbs(attribution: Float32Array, height: number, width: number): RawMap {
  const plane = height * width;
  const channels = attribution.length / plane;
  const data = new Float32Array(plane);
  for (let c = 0; c < channels; c++) for (let p = 0; p < plane; p++) data[p] = Math.max(data[p], Math.abs(attribution[c * plane + p]));
  return { width, height, data };
}

/** Bilinear upsampling of a small map to width × height (pixel centres aligned, as OpenCV's resize). */
export function upsample(map: RawMap, width: number, height: number): Float32Array {
  const out = new Float32Array(width * height);
  const sx = map.width / width;
  const sy = map.height / height;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), map.height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, map.height - 1);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), map.width - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, map.width - 1);
      const wx = fx - x0;
      const top = map.data[y0 * map.width + x0] * (1 - wx) + map.data[y0 * map.width + x1] * wx;
      const bottom = map.data[y1 * map.width + x0] * (1 - wx) + map.data[y1 * map.width + x1] * wx;
      out[y * width + x] = top * (1 - wy) + bottom * wy;
    }
  }
  return out;
}
