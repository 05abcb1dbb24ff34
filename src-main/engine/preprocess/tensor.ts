// 8-bit RGB → normalised float32, with the same float32 operations torchvision performs
// (ToTensor: x / 255; Normalize: (x - mean) / std), so the values match bit for bit.
import type { Rgb8Image } from './pil-resample.js';

export type TensorLayout = 'NCHW' | 'NHWC';

/** Per channel, the 256 possible normalised values (float32 arithmetic emulated with Math.fround). */
function lookupTables(mean: readonly number[], std: readonly number[]): Float32Array[] {
  const f = Math.fround;
  return [0, 1, 2].map((c) => {
    const table = new Float32Array(256);
    const m = f(mean[c]);
    const s = f(std[c]);
    for (let v = 0; v < 256; v++) table[v] = f(f(f(v) / 255) - m) / s;
    return table;
  });
}

const tableCache = new Map<string, Float32Array[]>();

/** Writes one image into `target` at `offset` (elements), in the model's layout. */
export function writeNormalised(
  image: Rgb8Image,
  mean: readonly number[],
  std: readonly number[],
  layout: TensorLayout,
  target: Float32Array,
  offset = 0,
): void {
  const key = `${mean.join(',')}|${std.join(',')}`;
  let tables = tableCache.get(key);
  if (!tables) {
    tables = lookupTables(mean, std);
    tableCache.set(key, tables);
  }
  const plane = image.width * image.height;
  const { data } = image;
  if (layout === 'NCHW') {
    for (let c = 0; c < 3; c++) {
      const table = tables[c];
      const base = offset + c * plane;
      for (let p = 0; p < plane; p++) target[base + p] = table[data[p * 3 + c]];
    }
  } else {
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) target[offset + p * 3 + c] = tables[c][data[p * 3 + c]];
    }
  }
}
