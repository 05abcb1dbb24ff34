// ResultsGalleryState against a fake transport: thumbnails two at a time, once per tile, and a thumbnail
// asked for the previous run is never shown in the next run's grid.
import { describe, expect, test } from 'vitest';
import { FeatureState } from './features.svelte.js';
import { ResultsGalleryState } from './gallery.svelte.js';
import { Toasts } from './toasts.svelte.js';
import { FakeTransport, settle } from './testing/fake-transport.js';

const A = 'batch_gallerya1';
const B = 'batch_galleryb1';
const jpeg = { jpeg: new Uint8Array([0xff, 0xd8]), width: 1, height: 1 };

function setup() {
  const fake = new FakeTransport();
  const gallery = new ResultsGalleryState(fake, new FeatureState(fake), new Toasts());
  return { fake, gallery };
}

describe('ResultsGalleryState', () => {
  test('two thumbnails in flight at most, each tile asked once; a failed one shows no preview', async () => {
    const { fake, gallery } = setup();
    gallery.use(A);
    for (const i of [0, 1, 2, 3, 1, 0]) gallery.thumb(i);
    await settle();
    expect(fake.heldOf('results.thumbnail').map((c) => c.params.index)).toEqual([0, 1]);
    fake.take('results.thumbnail').resolve(jpeg);
    fake.take('results.thumbnail').reject(Object.assign(new Error('gone'), { code: 'FILE_NOT_FOUND' }));
    await settle();
    expect(fake.heldOf('results.thumbnail').map((c) => c.params.index)).toEqual([2, 3]);
    expect(gallery.thumbs.get(0)).toMatch(/^blob:/);
    expect(gallery.thumbs.get(1)).toBeNull();
    expect(fake.callsOf('results.thumbnail')).toHaveLength(4);
  });

  test('a thumbnail of the previous run arriving late is not shown for the same row of the next run', async () => {
    const { fake, gallery } = setup();
    gallery.use(A);
    gallery.thumb(0);
    await settle();
    const late = fake.take('results.thumbnail');
    gallery.use(B);
    late.resolve(jpeg);
    await settle();
    expect(gallery.thumbs.has(0)).toBe(false);
    gallery.thumb(0);
    await settle();
    expect(fake.take('results.thumbnail').params).toMatchObject({ batch: B, index: 0 });
  });
});
