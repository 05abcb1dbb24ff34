import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { centerCropBox, resizedSize, roundHalfEven } from '../../src-main/engine/preprocess/geometry.js';
import { TESTDATA, hasTestdata } from '../helpers/testdata.js';

describe('torchvision geometry', () => {
  it("rounds halves to even like Python's round()", () => {
    expect([0.5, 1.5, 2.5, 58.5, 59.5, -1.5, 3.2, 3.7].map(roundHalfEven)).toEqual([0, 2, 2, 58, 60, -2, 3, 4]);
  });

  it('crops a 341-wide resize from 58, not 59', () => {
    expect(centerCropBox(341, 256, 224, 224)).toEqual({ left: 58, top: 16, width: 224, height: 224 });
  });

  it('keeps the shorter side at the target and truncates the longer one', () => {
    expect(resizedSize(640, 480, 256)).toEqual({ width: 341, height: 256 });
    expect(resizedSize(480, 640, 256)).toEqual({ width: 256, height: 341 });
    expect(resizedSize(1, 1, 256)).toEqual({ width: 256, height: 256 });
    expect(resizedSize(10000, 10, 256)).toEqual({ width: 256000, height: 256 });
  });

  it.runIf(hasTestdata)("matches the reference pipeline's resize and crop for every reference image", () => {
    const index = JSON.parse(readFileSync(path.join(TESTDATA, 'ref', 'index.json'), 'utf8')) as {
      images: Record<string, { upright_size: [number, number]; resized_size: [number, number]; crop_box: [number, number, number, number] }>;
    };
    const entries = Object.values(index.images);
    expect(entries.length).toBeGreaterThanOrEqual(10);
    for (const image of entries) {
      const [w, h] = image.upright_size;
      const resized = resizedSize(w, h, 256);
      expect([resized.width, resized.height]).toEqual(image.resized_size);
      const box = centerCropBox(resized.width, resized.height, 224, 224);
      expect([box.left, box.top, box.left + box.width, box.top + box.height]).toEqual(image.crop_box);
    }
  });
});
