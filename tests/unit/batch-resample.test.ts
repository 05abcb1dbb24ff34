// The batch path's speed-ups keep their promises: the optimised Pillow-port resize (JavaScript and
// WebAssembly SIMD) is bit-exact with the straightforward port on any size, and shrink-on-load
// decodes large JPEGs small, upright, and close to the full decode.
import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { decodeImage, shrinkTarget } from '../../src-main/engine/preprocess/decode.js';
import { centerCropBox, resizedSize } from '../../src-main/engine/preprocess/geometry.js';
import { resizeBilinearCropped } from '../../src-main/engine/preprocess/pil-resample.js';
import { TORCHVISION_PREPROCESSING, tensorFromDecoded } from '../../src-main/engine/preprocess/preprocess.js';
import { resizeBilinearCroppedOracle } from '../helpers/pil-resample-oracle.js';
import { photoJpeg } from '../helpers/photos.js';

function randomImage(width: number, height: number, channels: number, seed: number) {
  const data = new Uint8Array(width * height * channels);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    data[i] = s >>> 24;
  }
  return { data, width, height, channels };
}

// 'auto' is the WebAssembly SIMD passes for RGB (resample-simd.ts), 'js' the JavaScript ones.
const IMPLEMENTATIONS = ['auto', 'js'] as const;

describe('optimised Pillow resize', () => {
  it('equals the reference port byte for byte on random sizes, crops and channel counts', () => {
    let seed = 7;
    const next = (n: number) => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed % n;
    };
    for (let t = 0; t < 60; t++) {
      const channels = t % 10 === 9 ? 4 : t % 10 === 8 ? 1 : 3;
      const width = 1 + next(t < 40 ? 700 : 2000);
      const height = 1 + next(t < 40 ? 700 : 1500);
      const image = randomImage(width, height, channels, t + 1);
      const shorter = 16 + next(300);
      const resized = resizedSize(width, height, shorter);
      const crop = Math.min(resized.width, resized.height, 8 + next(250));
      const box = centerCropBox(resized.width, resized.height, crop, crop);
      const oracle = resizeBilinearCroppedOracle(image, resized.width, resized.height, box);
      for (const implementation of IMPLEMENTATIONS) {
        const ours = resizeBilinearCropped(image, resized.width, resized.height, box, implementation);
        expect(
          Buffer.from(ours.data).equals(Buffer.from(oracle.data)),
          `${implementation}: ${width}×${height}×${channels} → ${resized.width}×${resized.height} crop ${crop}`,
        ).toBe(true);
      }
    }
  });

  // The short-filter paths (≤ 7 taps, a downscale of up to 3×) and the general ones meet at these sizes.
  it('equals the reference port on the everyday shapes: small photos, the 3× boundary, upscales, edge columns', () => {
    const cases: [number, number, number][] = [
      [900, 600, 3], // 2.34×: 5–6 taps
      [600, 800, 3],
      [768, 768, 3], // exactly 3×: 7 taps, the largest short filter
      [771, 769, 3], // just past 3×: the general path
      [200, 150, 3], // an upscale: 2–3 taps
      [300, 257, 1],
    ];
    for (const [width, height, channels] of cases) {
      const image = randomImage(width, height, channels, width * height);
      const resized = resizedSize(width, height, 256);
      for (const crop of [224, Math.min(resized.width, resized.height)]) {
        const box = centerCropBox(resized.width, resized.height, crop, crop);
        const oracle = resizeBilinearCroppedOracle(image, resized.width, resized.height, box);
        for (const implementation of IMPLEMENTATIONS) {
          const ours = resizeBilinearCropped(image, resized.width, resized.height, box, implementation);
          expect(Buffer.from(ours.data).equals(Buffer.from(oracle.data)), `${implementation}: ${width}×${height}×${channels} crop ${crop}`).toBe(true);
        }
      }
    }
  });
});

describe('shrink-on-load', () => {
  it('targets a shorter side of minShorter, or down to 7/8 of it where libjpeg can then decode at a DCT scale', () => {
    expect(shrinkTarget(5472, 3648, 1024)).toEqual({ width: 1536, height: 1024 }); // f 3.56: DCT 1/2
    expect(shrinkTarget(3000, 4000, 1024)).toEqual({ width: 1000, height: 1333 }); // f 3.0 (not 2.93): DCT 1/2
    expect(shrinkTarget(8000, 6000, 1024)).toEqual({ width: 1365, height: 1024 }); // f 5.86: DCT 1/4
    expect(shrinkTarget(2400, 3200, 1024)).toEqual({ width: 1024, height: 1365 }); // 800 would be under 896: full decode + reduce
    expect(shrinkTarget(1536, 1536, 1024)).toEqual({ width: 1024, height: 1024 });
    expect(shrinkTarget(1535, 3000, 1024)).toBeUndefined();
    expect(shrinkTarget(900, 600, 1024)).toBeUndefined();
  });

  it('decodes a large JPEG small and upright, close to the full decode after the exact resize', async () => {
    // Stored sideways (EXIF orientation 6): upright it is 2400 × 3200.
    const bytes = await photoJpeg({ width: 3200, height: 2400, seed: 5, orientation: 6 });
    const full = await decodeImage(bytes);
    const small = await decodeImage(bytes, { shrinkOnLoad: { minShorter: 1024 } });
    expect([full.width, full.height]).toEqual([2400, 3200]);
    expect([small.width, small.height]).toEqual([1024, 1365]);
    expect(small.shrunkFrom).toEqual({ width: 2400, height: 3200 });
    expect(full.shrunkFrom).toBeUndefined();
    const a = tensorFromDecoded(full, TORCHVISION_PREPROCESSING).tensor;
    const b = tensorFromDecoded(small, TORCHVISION_PREPROCESSING).tensor;
    let sum = 0;
    for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
    // Mean difference well under one 8-bit level (1/255/0.225 ≈ 0.017 after normalisation).
    expect(sum / a.length).toBeLessThan(0.01);
  });

  it('leaves other formats and small JPEGs at full size', async () => {
    const png = await sharp({ create: { width: 3200, height: 2400, channels: 3, background: '#336699' } })
      .png()
      .toBuffer();
    expect((await decodeImage(png, { shrinkOnLoad: { minShorter: 1024 } })).width).toBe(3200);
    const jpeg = await photoJpeg({ width: 1200, height: 900, seed: 2 });
    expect((await decodeImage(jpeg, { shrinkOnLoad: { minShorter: 1024 } })).width).toBe(1200);
  });

  it('still refuses a truncated large JPEG', async () => {
    const bytes = await photoJpeg({ width: 3200, height: 2400, seed: 9 });
    await expect(decodeImage(bytes.subarray(0, bytes.length >> 1), { shrinkOnLoad: { minShorter: 1024 } })).rejects.toThrow(/truncated|premature|decoded/i);
  });
});
