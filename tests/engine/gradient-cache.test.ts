// The explanations' gradient cache (engine/explain/gradient-cache.ts): a byte-capped LRU, and the
// cache of gradient runs on a real gradient session: cached classes are not run again and equal a
// fresh run, missing ones share one run, the byte cap evicts the least recently used.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Explainer } from '../../src-main/engine/explain/explainer.js';
import { ByteLru, GradientCache } from '../../src-main/engine/explain/gradient-cache.js';
import { Classifier } from '../../src-main/engine/infer/classifier.js';
import { STAGE_NAMES } from '../../src-main/engine/core/vocabulary.js';
import { TORCHVISION_PREPROCESSING, preprocessBytes } from '../../src-main/engine/preprocess/preprocess.js';
import { ensureFixture } from '../fixtures/generate.js';
import { photoLike } from '../helpers/bad-inputs.js';

describe('ByteLru', () => {
  it('evicts the least recently used past the byte budget; reading refreshes; an entry over the budget is not kept', () => {
    const lru = new ByteLru<string>(100);
    lru.set('a', 'A', 40);
    lru.set('b', 'B', 40);
    expect(lru.get('a')).toBe('A'); // a is now the most recent
    lru.set('c', 'C', 40); // 120 > 100: b goes
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('a')).toBe('A');
    expect(lru.get('c')).toBe('C');
    expect(lru.bytes).toBe(80);
    lru.set('a', 'A2', 10); // replacing counts the new size only
    expect(lru.bytes).toBe(50);
    lru.set('huge', 'H', 101);
    expect(lru.get('huge')).toBeUndefined();
    expect(lru.size).toBe(2);
    lru.clear();
    expect([lru.size, lru.bytes]).toEqual([0, 0]);
  });
});

describe('GradientCache on a gradient session', () => {
  let classifier: Classifier;
  let explainer: Explainer;
  let input: Float32Array;
  beforeAll(async () => {
    const labels = Array.from({ length: 1000 }, (_, i) => `class ${i}`);
    classifier = await Classifier.load({
      name: 'fixture',
      modelPath: await ensureFixture({ depth: 18, bn: 'folded' }),
      preprocessing: TORCHVISION_PREPROCESSING,
      labels,
      ep: 'cpu',
    });
    explainer = await Explainer.load(classifier);
    input = (await preprocessBytes(await photoLike(320, 240, 'jpeg', 4), TORCHVISION_PREPROCESSING)).tensor;
  });
  afterAll(async () => {
    await explainer?.dispose();
    await classifier?.dispose();
  });

  it('serves cached classes without a run, equal to a fresh run; runs only the missing ones, together; evicts by bytes', async () => {
    const cache = new GradientCache();
    const first = await cache.run(explainer, 'photo', input, [5, 9], false);
    expect(cache.stats).toEqual({ hits: 0, misses: 2, runs: 1 });
    const again = await cache.run(explainer, 'photo', input, [9, 5], false);
    expect(cache.stats).toEqual({ hits: 2, misses: 2, runs: 1 });
    const fresh = await explainer.run(input, 1, { classes: [9, 5] });
    for (const s of STAGE_NAMES) {
      expect(again.stages[s].gradient).toEqual(fresh.stages[s].gradient);
      expect(again.stages[s].activation).toEqual(first.stages[s].activation);
    }
    expect(again.inputGradient).toEqual(fresh.inputGradient);
    expect(again.logits[0]).toEqual(fresh.logits[0]);
    // One cached, two missing: one run for both.
    await cache.run(explainer, 'photo', input, [5, 11, 12], false);
    expect(cache.stats).toEqual({ hits: 3, misses: 4, runs: 2 });
    // The guided pass and another image are other entries.
    await cache.run(explainer, 'photo', input, [5], true);
    await cache.run(explainer, 'other', input, [5], false);
    expect(cache.stats.runs).toBe(4);
    expect(cache.logits('photo')).toEqual(fresh.logits[0]);
    expect(cache.logits('unknown')).toBeUndefined();

    // A budget of one image and one class: a second class evicts the first.
    const perImage = STAGE_NAMES.reduce((n, s) => n + first.stages[s].activation.byteLength, 0) + first.logits[0].byteLength;
    const perClass = STAGE_NAMES.reduce((n, s) => n + first.stages[s].gradient.byteLength / 2, 0) + first.inputGradient.byteLength / 2;
    const small = new GradientCache(perImage + perClass + 1000);
    await small.run(explainer, 'photo', input, [5], false);
    await small.run(explainer, 'photo', input, [5], false);
    expect(small.stats).toEqual({ hits: 1, misses: 1, runs: 1 });
    await small.run(explainer, 'photo', input, [9], false);
    expect(small.bytes).toBeLessThanOrEqual(perImage + perClass + 1000);
    await small.run(explainer, 'photo', input, [5], false);
    expect(small.stats.runs).toBe(3);
  });
});
