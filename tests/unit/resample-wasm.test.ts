// The committed WebAssembly (resample-wasm.ts) is what resample.wat assembles to: editing the source
// without `npm run build:wasm` fails here instead of shipping stale bytes.
import { describe, expect, it } from 'vitest';
import { RESAMPLE_WASM_BASE64 } from '../../src-main/engine/preprocess/resample-wasm.js';
import { simdResampler } from '../../src-main/engine/preprocess/resample-simd.js';
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
});
