// Runs the two passes of the Pillow-exact resize in WebAssembly SIMD (resample.wat): the same
// integers as the JavaScript passes in pil-resample.ts, ~4× quicker (bench numbers in
// docs/performance.md). One instance per thread, made on first use; its memory grows to the largest
// image seen, bounded by copying the source in strips rather than whole.
import type { Coefficients, CropWindow, Rgb8Image } from './pil-resample.js';
import { RESAMPLE_WASM_BASE64 } from './resample-wasm.js';

interface ResampleExports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  horizontal_rgb(src: number, srcStride: number, rows: number, cropWidth: number, bounds: number, weights: number, ksize: number, dst: number): void;
  vertical(temp: number, stride: number, outRows: number, firstRow: number, bounds: number, weights: number, ksize: number, out: number): void;
}

/** Source bytes copied into the module per strip: a 20 MP photo goes through in ~64 MB less memory. */
const STRIP_BYTES = 4 * 2 ** 20;
/** Both passes read and write up to 15 bytes past their data (see resample.wat). */
const SLACK = 16;
const PAGE = 65536;

/**
 * Wider images take the JavaScript passes: a strip holds at least two rows, and the module's memory
 * never shrinks, so a hostile 200 MP × 1 row image would otherwise keep 1.2 GB for the process'
 * life. 65,535 is the widest JPEG, WebP and (in practice) camera image.
 */
export const SIMD_MAX_WIDTH = 65_535;

let instance: ResampleExports | null | undefined;

/** The part of the WebAssembly API used here (the project's TypeScript lib has no DOM types). */
interface WebAssemblyApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
}
const wasm = (globalThis as unknown as { WebAssembly?: WebAssemblyApi }).WebAssembly;

/**
 * The module, or null where WebAssembly SIMD is missing (every Node and Electron ResLens supports
 * has it; the JavaScript passes stay as the fallback) or RESLENS_RESIZE=js asks for the fallback.
 */
export function simdResampler(): ResampleExports | null {
  if (instance !== undefined) return instance;
  const bytes = Buffer.from(RESAMPLE_WASM_BASE64, 'base64');
  if (process.env.RESLENS_RESIZE === 'js' || !wasm?.validate(bytes)) instance = null;
  else instance = new wasm.Instance(new wasm.Module(bytes)).exports as ResampleExports;
  return instance;
}

const align = (n: number): number => (n + 15) & ~15;

/**
 * Horizontal then vertical pass for interleaved RGB, returning the crop window's pixels, or null
 * when these passes do not take the image (no SIMD, RESLENS_RESIZE=js, wider than SIMD_MAX_WIDTH):
 * the caller (resizeBilinearCropped) then runs its JavaScript passes. It has computed both passes'
 * coefficients and the source rows they need.
 */
export function resampleRgbSimd(
  image: Rgb8Image,
  crop: CropWindow,
  horizontal: Coefficients,
  vertical: Coefficients,
  firstRow: number,
  tempRows: number,
): Uint8Array | null {
  const module = image.channels === 3 && image.width <= SIMD_MAX_WIDTH ? simdResampler() : null;
  if (!module) return null;
  const srcStride = image.width * 3;
  const stride = crop.width * 3;
  // Strips of an even number of rows (the horizontal pass goes two rows at a time).
  const stripRows = Math.min(tempRows + (tempRows & 1), Math.max(2, Math.floor(STRIP_BYTES / srcStride) & ~1));

  // Layout: coefficients, source strip (+1 spare row), temp (+1 spare row), out, each 16-aligned.
  const hBounds = 0;
  const hWeights = align(hBounds + horizontal.bounds.byteLength);
  const vBounds = align(hWeights + horizontal.weights.byteLength);
  const vWeights = align(vBounds + vertical.bounds.byteLength);
  const strip = align(vWeights + vertical.weights.byteLength);
  const temp = align(strip + (stripRows + 1) * srcStride + SLACK);
  const out = align(temp + (tempRows + 1) * stride + SLACK);
  const end = out + crop.height * stride + SLACK;
  const pages = Math.ceil(end / PAGE) - module.memory.buffer.byteLength / PAGE;
  if (pages > 0) module.memory.grow(pages);

  const heap = new Uint8Array(module.memory.buffer);
  new Int32Array(module.memory.buffer, hBounds, horizontal.bounds.length).set(horizontal.bounds);
  new Int32Array(module.memory.buffer, hWeights, horizontal.weights.length).set(horizontal.weights);
  new Int32Array(module.memory.buffer, vBounds, vertical.bounds.length).set(vertical.bounds);
  new Int32Array(module.memory.buffer, vWeights, vertical.weights.length).set(vertical.weights);

  for (let done = 0; done < tempRows; done += stripRows) {
    const rows = Math.min(stripRows, tempRows - done);
    const from = (firstRow + done) * srcStride;
    heap.set(image.data.subarray(from, from + rows * srcStride), strip);
    // An odd last strip computes one spare row from whatever the spare source row holds.
    module.horizontal_rgb(strip, srcStride, rows + (rows & 1), crop.width, hBounds, hWeights, horizontal.ksize, temp + done * stride);
  }
  module.vertical(temp, stride, crop.height, firstRow, vBounds, vWeights, vertical.ksize, out);
  return heap.slice(out, out + crop.height * stride);
}
