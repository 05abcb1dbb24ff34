// CompareState against a fake transport: the second side of the feature view. Switching what is compared
// drops the answer for the previous choice; a model target asks that model; clear() stops a load.
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { ImageId } from '../../../src-main/api/contract.js';
import { CompareState, topDifferences } from './compare.svelte.js';
import type { Card } from './images.svelte.js';
import { FakeTransport, settle } from './testing/fake-transport.js';
import { features } from './testing/values.js';

const photo = (n: number): Card => ({ key: n, name: `p${n}.jpg`, image: `img_compare0000${n}` as ImageId, phase: 'done' });
const shown = photo(0).image;

describe('CompareState', () => {
  // Node has no createImageBitmap: the crop's bitmap is a stand-in (the decode is the browser's job).
  beforeEach(() => vi.stubGlobal('createImageBitmap', async () => ({ width: 224, height: 224 })));
  afterEach(() => vi.unstubAllGlobals());

  test('a model target asks features of the shown photo under that model; a photo target asks that photo', async () => {
    const fake = new FakeTransport();
    fake.handle('features.get', ({ image, model }) => features(image, model ?? 'current model'));
    const compare = new CompareState(fake);
    await compare.load({ kind: 'model', model: 'resnet152' }, shown, 'max');
    expect(fake.callsOf('features.get').at(-1)).toMatchObject({ image: shown, model: 'resnet152', mode: 'max' });
    expect(compare.value?.top[0]?.label).toBe('resnet152');
    expect(compare.photo).not.toBeNull();

    await compare.load({ kind: 'photo', card: photo(5) }, shown, 'mean');
    expect(fake.callsOf('features.get').at(-1)).toEqual({ image: photo(5).image, mode: 'mean', channels: 12, classes: 5 });
    expect(compare.value?.top[0]?.label).toBe('current model');
  });

  test('the answer for the previous choice does not replace the current one; clear() drops a load in flight', async () => {
    const fake = new FakeTransport();
    const compare = new CompareState(fake);
    void compare.load({ kind: 'model', model: 'resnet50' }, shown, 'mean');
    void compare.load({ kind: 'model', model: 'resnet152' }, shown, 'mean');
    const [old, current] = [fake.take('features.get'), fake.take('features.get')];
    current.resolve(features(shown!, 'resnet152'));
    await settle();
    old.resolve(features(shown!, 'resnet50'));
    await settle();
    expect(compare.value?.top[0]?.label).toBe('resnet152');
    expect(compare.target).toEqual({ kind: 'model', model: 'resnet152' });

    void compare.load({ kind: 'model', model: 'resnet50' }, shown, 'mean');
    compare.clear();
    fake.take('features.get').reject(Object.assign(new Error('model failed to load'), { code: 'INVALID_MODEL' }));
    await settle();
    expect(compare.value).toBeNull();
    expect(compare.error).toBeNull();
    expect(compare.loading).toBe(false);
  });

  test('an error for the current choice is shown', async () => {
    const fake = new FakeTransport();
    fake.handle('features.get', () => Promise.reject(Object.assign(new Error('no such model'), { code: 'MODEL_NOT_FOUND' })));
    const compare = new CompareState(fake);
    await compare.load({ kind: 'model', model: 'resnet101' }, shown, 'mean');
    expect(compare.error).toEqual({ code: 'MODEL_NOT_FOUND', message: 'no such model' });
    expect(compare.loading).toBe(false);
  });

  test('topDifferences: classes only one side has, rank and probability moves', () => {
    const left = [
      { index: 1, label: 'a', prob: 0.6 },
      { index: 2, label: 'b', prob: 0.3 },
      { index: 3, label: 'c', prob: 0.1 },
    ];
    const right = [
      { index: 2, label: 'b', prob: 0.5 },
      { index: 1, label: 'a', prob: 0.4 },
    ];
    const diff = topDifferences(left, right);
    expect(diff[1]).toEqual({ onlyHere: false, rankChange: 1, probChange: expect.closeTo(0.2, 6) });
    expect(diff[2]).toEqual({ onlyHere: false, rankChange: -1, probChange: expect.closeTo(-0.2, 6) });
    expect(diff[3]).toEqual({ onlyHere: true, rankChange: 0, probChange: 0.1 });
  });
});
