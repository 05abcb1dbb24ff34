import { describe, expect, it } from 'vitest';
import { softmax, topK } from '../../src-main/engine/infer/topk.js';

describe('softmax and top-k', () => {
  it('sums to one and survives huge logits', () => {
    const p = softmax([1000, 999, -1000]);
    expect(p[0] + p[1] + p[2]).toBeCloseTo(1, 12);
    expect(p[0] / p[1]).toBeCloseTo(Math.E, 9);
    expect(Number.isFinite(p[2])).toBe(true);
  });

  it('returns the k best in order with labels, lower index first on ties', () => {
    const logits = [0.1, 3, 2, 3, -1, 5];
    const labels = ['a', 'b', 'c', 'd', 'e', 'f'];
    const top = topK(logits, 3, labels);
    expect(top.map((t) => t.index)).toEqual([5, 1, 3]);
    expect(top.map((t) => t.label)).toEqual(['f', 'b', 'd']);
    expect(top[0].prob).toBeGreaterThan(top[1].prob);
    expect(top[1].prob).toBe(top[2].prob);
  });

  it('agrees with a full sort on random vectors', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 20 - 10;
    for (let trial = 0; trial < 20; trial++) {
      const logits = Array.from({ length: 1000 }, random);
      const expected = logits
        .map((v, i) => [v, i] as const)
        .sort((a, b) => b[0] - a[0] || a[1] - b[1])
        .slice(0, 5)
        .map(([, i]) => i);
      expect(topK(logits, 5, []).map((t) => t.index)).toEqual(expected);
    }
  });

  it('names unlabelled classes by index and caps k at the class count', () => {
    const top = topK([1, 2], 5, []);
    expect(top).toHaveLength(2);
    expect(top[0].label).toBe('class 1');
  });
});
