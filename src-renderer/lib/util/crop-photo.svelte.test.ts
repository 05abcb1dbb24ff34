// CropPhoto: the feature view's and the explain panel's decoded crop. It follows the answer it reads;
// a decode still running when the answer changes never replaces the newer photo; bytes that do not
// decode give no photo (the maps are drawn alone) rather than an error.
import { flushSync } from 'svelte';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { CropPhoto, decodeCrop } from './crop-photo.svelte.js';

/** createImageBitmap (absent in Node) as decodes the test finishes by hand, in any order. */
function manualDecoder() {
  const pending: { bytes: number; resolve: (b: ImageBitmap) => void; reject: (e: Error) => void }[] = [];
  vi.stubGlobal('createImageBitmap', async (blob: Blob) => {
    const bytes = (await blob.arrayBuffer()).byteLength;
    return new Promise<ImageBitmap>((resolve, reject) => pending.push({ bytes, resolve, reject }));
  });
  return pending;
}
const bitmap = (width: number) => ({ width, height: width }) as ImageBitmap;
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('CropPhoto', () => {
  afterEach(() => vi.unstubAllGlobals());

  test('decodes the crop it reads, and a stale decode does not replace the current photo', async () => {
    const pending = manualDecoder();
    let jpeg = $state<Uint8Array | null>(new Uint8Array(1));
    let crop!: CropPhoto;
    const stop = $effect.root(() => {
      crop = new CropPhoto(() => jpeg);
    });
    flushSync();
    await settle();
    jpeg = new Uint8Array(2);
    flushSync();
    await settle();
    expect(pending.map((p) => p.bytes)).toEqual([1, 2]);

    pending[1].resolve(bitmap(2));
    await settle();
    expect(crop.current?.width).toBe(2);
    pending[0].resolve(bitmap(1));
    await settle();
    expect(crop.current?.width).toBe(2);

    jpeg = null;
    flushSync();
    expect(crop.current).toBeNull();
    stop();
  });

  test('a new answer for the same photo (equal bytes, a new array) keeps the decoded crop: no second decode and repaint', async () => {
    const pending = manualDecoder();
    let jpeg = $state<Uint8Array | null>(Uint8Array.from([1, 2, 3]));
    let crop!: CropPhoto;
    const stop = $effect.root(() => {
      crop = new CropPhoto(() => jpeg);
    });
    flushSync();
    await settle();
    pending[0].resolve(bitmap(3));
    await settle();
    const first = crop.current;
    jpeg = Uint8Array.from([1, 2, 3]);
    flushSync();
    await settle();
    expect(pending).toHaveLength(1);
    expect(crop.current).toBe(first);
    jpeg = Uint8Array.from([1, 2, 4]); // another photo of the same size: decoded
    flushSync();
    await settle();
    expect(pending).toHaveLength(2);
    stop();
  });

  test('bytes that do not decode give no photo', async () => {
    const pending = manualDecoder();
    const result = decodeCrop(new Uint8Array(3));
    await settle();
    pending[0].reject(new Error('not a JPEG'));
    await expect(result).resolves.toBeNull();
  });
});
