// Test oracle: the first, straightforward port of Pillow's resampler (one output value at a time),
// kept to check the optimised engine version bit for bit on random sizes.
//
// A port of Pillow's two-pass fixed-point resampler (libImaging/Resample.c) for the bilinear
// (triangle) filter, 8 bits per channel. torchvision's Resize on PIL images is exactly this code, and
// matching it bit for bit is what keeps ResNet outputs equal to PyTorch's (see DESIGN.md: sharp's own
// kernels or a float bilinear move top-5 on 10-25% of photos).
//
// Unlike Pillow we compute only the output pixels inside the crop window: each output pixel depends
// on its own coefficients alone, so the result is identical while a 224×224 crop of a 20 MP photo
// costs a fraction of the full resize.

const PRECISION_BITS = 32 - 8 - 2;
const ROUND_HALF = 1 << (PRECISION_BITS - 1);
const BILINEAR_SUPPORT = 1.0;

function bilinear(x: number): number {
  const a = x < 0 ? -x : x;
  return a < 1 ? 1 - a : 0;
}

interface Coefficients {
  /** Pairs (first source index, tap count) per output index. */
  bounds: Int32Array;
  /** ksize fixed-point weights per output index. */
  weights: Int32Array;
  ksize: number;
}

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc for output indices [first, first + count). */
function precomputeCoefficients(inSize: number, outSize: number, first: number, count: number): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = BILINEAR_SUPPORT * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(count * 2);
  const weights = new Int32Array(count * ksize);
  const k = new Float64Array(ksize);
  for (let i = 0; i < count; i++) {
    const xx = first + i;
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterScale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = bilinear((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? k[x] / ww : k[x];
      weights[i * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * (1 << PRECISION_BITS)) : Math.trunc(0.5 + v * (1 << PRECISION_BITS));
    }
    bounds[i * 2] = xmin;
    bounds[i * 2 + 1] = xmax;
  }
  return { bounds, weights, ksize };
}

function clip8(value: number): number {
  const v = value >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

export interface Rgb8Image {
  data: Uint8Array;
  width: number;
  height: number;
  /** Interleaved channels per pixel (3 for RGB). */
  channels: number;
}

export interface CropWindow {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * Resizes `image` to outWidth×outHeight exactly as Pillow's `Image.resize(..., BILINEAR)` and returns
 * only the `crop` window of the result (interleaved, same channel count).
 */
export function resizeBilinearCroppedOracle(image: Rgb8Image, outWidth: number, outHeight: number, crop: CropWindow): Rgb8Image {
  const { data, width, height, channels } = image;
  const horizontal = precomputeCoefficients(width, outWidth, crop.left, crop.width);
  const vertical = precomputeCoefficients(height, outHeight, crop.top, crop.height);

  // Source rows the vertical pass needs for the crop's rows.
  const firstRow = vertical.bounds[0];
  const lastRow = vertical.bounds[(crop.height - 1) * 2] + vertical.bounds[(crop.height - 1) * 2 + 1];
  const tempRows = lastRow - firstRow;

  // Horizontal pass: source rows [firstRow, lastRow) → crop.width columns.
  const temp = new Uint8Array(tempRows * crop.width * channels);
  const hk = horizontal.ksize;
  for (let row = 0; row < tempRows; row++) {
    const srcRow = (row + firstRow) * width * channels;
    const dstRow = row * crop.width * channels;
    for (let xx = 0; xx < crop.width; xx++) {
      const xmin = horizontal.bounds[xx * 2];
      const taps = horizontal.bounds[xx * 2 + 1];
      const kOffset = xx * hk;
      for (let c = 0; c < channels; c++) {
        let ss = ROUND_HALF;
        let src = srcRow + xmin * channels + c;
        for (let x = 0; x < taps; x++) {
          ss += data[src] * horizontal.weights[kOffset + x];
          src += channels;
        }
        temp[dstRow + xx * channels + c] = clip8(ss);
      }
    }
  }

  // Vertical pass over the temporary rows.
  const out = new Uint8Array(crop.height * crop.width * channels);
  const vk = vertical.ksize;
  const stride = crop.width * channels;
  for (let yy = 0; yy < crop.height; yy++) {
    const ymin = vertical.bounds[yy * 2] - firstRow;
    const taps = vertical.bounds[yy * 2 + 1];
    const kOffset = yy * vk;
    const dstRow = yy * stride;
    for (let i = 0; i < stride; i++) {
      let ss = ROUND_HALF;
      let src = ymin * stride + i;
      for (let y = 0; y < taps; y++) {
        ss += temp[src] * vertical.weights[kOffset + y];
        src += stride;
      }
      out[dstRow + i] = clip8(ss);
    }
  }
  return { data: out, width: crop.width, height: crop.height, channels };
}
