// The committed WebAssembly (resample-wasm.ts) is what resample.wat assembles to: editing the source
// without `npm run build:wasm` fails here instead of shipping stale bytes.
import { describe, expect, it } from 'vitest';
import { RESAMPLE_WASM_BASE64 } from '../../src-main/engine/preprocess/resample-wasm.js';
import { SIMD_MAX_WIDTH, simdResampler } from '../../src-main/engine/preprocess/resample-simd.js';
import { resizeBilinearCropped } from '../../src-main/engine/preprocess/pil-resample.js';
// @ts-expect-error: a plain .mjs build script without type declarations
import { assembleResampleWasm } from '../../scripts/build-wasm.mjs';

describe('resample WebAssembly', () => {
  it('matches its .wat source', async () => {
    const assembled = (await assembleResampleWasm()) as Buffer;
    expect(assembled.toString('base64')).toBe(RESAMPLE_WASM_BASE64);
  });

  it('is the path this Node takes (WebAssembly SIMD available)', () => {
    expect(simdResampler()).not.toBeNull();
  });

  it("copies a large photo in through several strips, bounded, with the JavaScript passes' bytes", () => {
    const resampler = simdResampler();
    // 3001×2003 RGB: 18 MB of source, ~5 strips of 4 MB, an odd row count in the last strip.
    const width = 3001;
    const height = 2003;
    const data = new Uint8Array(width * height * 3);
    let seed = 11;
    for (let i = 0; i < data.length; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      data[i] = seed >>> 24;
    }
    const image = { data, width, height, channels: 3 };
    for (const box of [
      { left: 0, top: 0, width: 383, height: 256 }, // the whole resized image: every source row
      { left: 79, top: 16, width: 224, height: 224 }, // the usual centre crop
    ]) {
      const simd = resizeBilinearCropped(image, 383, 256, box);
      const js = resizeBilinearCropped(image, 383, 256, box, 'js');
      expect(Buffer.from(simd.data).equals(Buffer.from(js.data)), `crop ${JSON.stringify(box)}`).toBe(true);
    }
    // The module holds a strip, not the photo.
    expect(resampler!.memory.buffer.byteLength).toBeLessThan(data.length / 2);
  });

  it('leaves images wider than SIMD_MAX_WIDTH to the JavaScript passes, so its memory does not grow by them', () => {
    const resampler = simdResampler();
    const before = resampler?.memory.buffer.byteLength;
    const width = SIMD_MAX_WIDTH + 1000;
    const data = new Uint8Array(width * 2 * 3).map((_, i) => (i * 31) & 255);
    const image = { data, width, height: 2, channels: 3 };
    const box = { left: 100, top: 0, width: 64, height: 1 };
    const auto = resizeBilinearCropped(image, 2000, 1, box);
    const js = resizeBilinearCropped(image, 2000, 1, box, 'js');
    expect(Buffer.from(auto.data).equals(Buffer.from(js.data))).toBe(true);
    expect(resampler?.memory.buffer.byteLength).toBe(before);
  });
});
