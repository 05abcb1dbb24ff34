import { describe, expect, it } from 'vitest';
import {
  channelMap,
  classActivationMap,
  normalise,
  rankChannels,
  reduceStage,
  stageHeatmap,
  stageStatistics,
  topChannels,
} from '../../src-main/engine/features/reduce.js';
import { encodeNpy } from '../../src-main/engine/features/npy.js';

// 3 channels of 2×2: channel 1 is the most active, channel 2 is all zero.
const map = Float32Array.from([1, 2, 3, 4, 10, 10, 0, 20, 0, 0, 0, 0]);
const shape = [3, 2, 2] as const;

describe('feature reductions', () => {
  it('mean and max heatmaps over channels, normalised to [0, 1]', () => {
    const mean = stageHeatmap(map, shape, 'mean');
    expect(mean.min).toBeCloseTo(1, 6); // pixel 2: (3 + 0 + 0) / 3
    expect(mean.max).toBeCloseTo(8, 6); // pixel 3: (4 + 20 + 0) / 3
    expect(Array.from(mean.data)).toEqual([expect.closeTo((11 / 3 - 1) / 7, 6), expect.closeTo((4 - 1) / 7, 6), 0, 1]);
    const max = stageHeatmap(map, shape, 'max');
    expect([max.min, max.max]).toEqual([3, 20]);
    expect(max.data[3]).toBe(1);
  });

  it('finds the range wherever it lies: in any of the four lanes scanned together, or in the tail', () => {
    // Seven values: indices 0–3 are scanned four at a time, 4–6 one by one.
    for (let minAt = 0; minAt < 7; minAt++)
      for (let maxAt = 0; maxAt < 7; maxAt++) {
        if (minAt === maxAt) continue;
        const values = new Float32Array(7).fill(5);
        values[minAt] = -3;
        values[maxAt] = 9;
        const n = normalise(values, 7, 1);
        expect([n.min, n.max], `min at ${minAt}, max at ${maxAt}`).toEqual([-3, 9]);
        expect(n.data[minAt]).toBe(0);
        expect(n.data[maxAt]).toBe(1);
        expect(n.data[[0, 1, 2, 3, 4, 5, 6].find((i) => i !== minAt && i !== maxAt)!]).toBeCloseTo(8 / 12, 6);
      }
    const tailNaN = normalise(Float32Array.from([1, 2, 3, 4, 5, Number.NaN, 0]), 7, 1);
    expect([tailNaN.min, tailNaN.max]).toEqual([0, 5]);
  });

  it('a constant map normalises to zeros, not NaN', () => {
    const flat = normalise(new Float32Array(4).fill(7), 2, 2);
    expect(Array.from(flat.data)).toEqual([0, 0, 0, 0]);
  });

  it('a NaN in a map (a damaged model) is skipped for the range, as a comparison would', () => {
    const n = normalise(Float32Array.from([2, Number.NaN, 6, 4]), 2, 2);
    expect([n.min, n.max]).toEqual([2, 6]);
    expect(Array.from(n.data)).toEqual([0, Number.NaN, 1, 0.5]);
  });

  it('normalises in place (views of one run output) or into a given array; neighbours keep their values', () => {
    const output = Float32Array.from([0, 5, 10, 1, 1, 3, 9]);
    const a = normalise(output.subarray(0, 3), 3, 1, output.subarray(0, 3));
    const b = normalise(output.subarray(3, 6), 3, 1, output.subarray(3, 6));
    expect(Array.from(a.data)).toEqual([0, 0.5, 1]);
    expect(Array.from(b.data)).toEqual([0, 0, 1]);
    expect(a.data.buffer).toBe(output.buffer);
    expect(output[6]).toBe(9);
    const source = Float32Array.from([2, 4]);
    const into = new Float32Array(4).fill(-1);
    const c = normalise(source, 2, 1, into);
    expect(Array.from(into)).toEqual([0, 1, -1, -1]);
    expect(Array.from(source)).toEqual([2, 4]);
    expect(c.data.length).toBe(2);
  });

  it('ranks channels by mean activation and extracts one on demand', () => {
    expect(topChannels(map, shape, 2)).toEqual([
      { channel: 1, meanActivation: 10 },
      { channel: 0, meanActivation: 2.5 },
    ]);
    expect(Array.from(channelMap(map, shape, 0).data)).toEqual([0, 1 / 3, 2 / 3, 1].map((v) => expect.closeTo(v, 6)));
    expect(() => channelMap(map, shape, 3)).toThrow(RangeError);
  });

  it('statistics include the ReLU sparsity', () => {
    const stats = stageStatistics(map);
    expect(stats.zeroFraction).toBeCloseTo(5 / 12, 9);
    expect(stats.max).toBe(20);
    expect(stats.mean).toBeCloseTo(50 / 12, 6);
  });

  it('the one-pass reduction agrees with the separate reductions', () => {
    let seed = 3;
    const random = Float32Array.from({ length: 8 * 5 * 4 }, () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const v = seed / 2 ** 31 - 0.4;
      return v < 0 ? 0 : v; // ReLU-like sparsity
    });
    const s = [8, 5, 4] as const;
    for (const mode of ['mean', 'max'] as const) {
      const one = reduceStage(random, s, mode);
      const separate = stageHeatmap(random, s, mode);
      expect(Array.from(one.heatmap.data)).toEqual(Array.from(separate.data).map((v) => expect.closeTo(v, 6)));
      const stats = stageStatistics(random);
      expect(one.stats.min).toBe(stats.min);
      expect(one.stats.max).toBe(stats.max);
      expect(one.stats.mean).toBeCloseTo(stats.mean, 6);
      expect(one.stats.std).toBeCloseTo(stats.std as number, 6);
      expect(one.stats.zeroFraction).toBe(stats.zeroFraction);
      expect(rankChannels(one.channelMeans, 3).map((c) => c.channel)).toEqual(topChannels(random, s, 3).map((c) => c.channel));
    }
  });

  it('class activation map: spatial mean equals the logit without its bias, for either weight layout', () => {
    const features = Float32Array.from([1, 2, 3, 4, 0.5, 0, 0, 0.5]); // 2 channels × 2×2
    const w = [
      [0.5, -1],
      [2, 0.25],
    ]; // [classes][features]
    const bias = [0.1, -0.2];
    const pooled = [2.5, 0.25];
    const logits = w.map((row, c) => row[0] * pooled[0] + row[1] * pooled[1] + bias[c]);
    for (const classesFirst of [true, false]) {
      const weight = classesFirst ? Float32Array.from(w.flat()) : Float32Array.from([w[0][0], w[1][0], w[0][1], w[1][1]]);
      for (const c of [0, 1]) {
        const cam = classActivationMap(features, [2, 2, 2], { weight, classesFirst, classes: 2, features: 2, bias: Float32Array.from(bias) }, c);
        const mean = cam.reduce((a, b) => a + b, 0) / 4;
        expect(mean).toBeCloseTo(logits[c] - bias[c], 6);
      }
    }
  });

  it('writes .npy headers NumPy accepts (64-byte aligned, shape tuple)', () => {
    const bytes = encodeNpy(Float32Array.from([1, 2, 3, 4, 5, 6]), [1, 2, 3]);
    const headerLength = bytes.readUInt16LE(8);
    expect((10 + headerLength) % 64).toBe(0);
    const header = bytes.subarray(10, 10 + headerLength).toString('latin1');
    expect(header).toMatch(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \(1, 2, 3\), \}\s*\n$/);
    expect(new Float32Array(bytes.buffer.slice(bytes.byteOffset + 10 + headerLength, bytes.byteOffset + bytes.length))).toEqual(
      Float32Array.from([1, 2, 3, 4, 5, 6]),
    );
    expect(encodeNpy(new Float32Array(3), [3]).toString('latin1')).toContain("'shape': (3,)");
  });
});
