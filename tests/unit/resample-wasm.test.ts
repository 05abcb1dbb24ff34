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
