// ImagesState (the cards) against a fake transport: the classify queue keeps at most two requests of
// at most four photos in flight, every card gets its own answer or its own error, none is lost, and a
// card that failed for the engine's reason (not its file's) can be retried.
import { describe, expect, test } from 'vitest';
import type { ClassScore, ImageId, ImageResult } from '../../../src-main/api/contract.js';
import { ImagesState } from './images.svelte.js';
import { FakeTransport, settle } from './testing/fake-transport.js';

const top = (label: string): ClassScore[] => [{ index: 1, label, prob: 0.9 }];
const ok = (image: ImageId, label = `label of ${image}`): ImageResult => ({ image, name: image, result: { top: top(label), ep: 'cpu', ms: 5 } });
const images = (n: number, from = 0): { image: ImageId; name: string }[] =>
  Array.from({ length: n }, (_, i) => ({ image: `img_photo${String(from + i).padStart(5, '0')}`, name: `p${from + i}.jpg` }));

/** Answers every held classify request with each photo's own result. */
function answerAll(fake: FakeTransport): void {
  for (const call of fake.heldOf('images.classify')) {
    fake.take('images.classify').resolve(call.params.images.map((id) => ok(id)));
  }
}

function setup(): { fake: FakeTransport; state: ImagesState } {
  const fake = new FakeTransport();
  fake.handle('images.thumbnail', () => ({ jpeg: new Uint8Array([0xff, 0xd8]), width: 1, height: 1 }));
  return { fake, state: new ImagesState(fake) };
}

describe('ImagesState classify queue', () => {
  test('at most two classify requests of at most four photos are in flight; the rest wait; answers in any order; none is lost', async () => {
    const { fake, state } = setup();
    state.addGranted(images(11));
    await settle();
    let maxInFlight = 0;
    const sizes: number[] = [];
    // Answer the newest request first each time (a slow first request), until nothing waits.
    for (let held = fake.heldOf('images.classify'); held.length > 0; held = fake.heldOf('images.classify')) {
      maxInFlight = Math.max(maxInFlight, held.length);
      const call = fake.take('images.classify');
      const newest = held.length > 1 ? (fake.held.splice(fake.held.indexOf(held[held.length - 1]!), 1)[0]! as typeof call) : call;
      if (newest !== call) fake.held.unshift(call);
      sizes.push(newest.params.images.length);
      newest.resolve(newest.params.images.map((id) => ok(id)));
      await settle();
    }
    expect(maxInFlight).toBe(2);
    // The first two photos go at once, one each (the first results appear at once), the rest in groups of four.
    expect(Math.max(...sizes)).toBe(4);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(11);
    expect(state.counts).toEqual({ total: 11, done: 11, failed: 0, pending: 0 });
    // Each card got its own photo's answer (matched by image id, not by position).
    for (const card of state.cards) expect(card.top?.[0]?.label).toBe(`label of ${card.image}`);
  });

  test('answers out of order within a request still reach the right cards; a per-image error marks only that card', async () => {
    const { fake, state } = setup();
    state.addGranted(images(6));
    await settle();
    answerAll(fake); // the two single-photo requests that go out at once
    await settle();
    const call = fake.take('images.classify');
    expect(call.params.images).toHaveLength(4);
    const [a, b, c, d] = call.params.images as [ImageId, ImageId, ImageId, ImageId];
    call.resolve([ok(d), ok(c), { image: b, name: 'p3.jpg', result: { error: { code: 'DECODE_FAILED', message: 'not a JPEG after all' } } }, ok(a)]);
    await settle();
    const byImage = new Map(state.cards.map((card) => [card.image, card]));
    for (const id of [a, c, d]) expect(byImage.get(id)).toMatchObject({ phase: 'done', top: top(`label of ${id}`) });
    expect(byImage.get(b)).toMatchObject({ phase: 'error', error: { code: 'DECODE_FAILED', message: 'not a JPEG after all' } });
    expect(byImage.get(b)?.top).toBeUndefined();
    expect(state.counts).toEqual({ total: 6, done: 5, failed: 1, pending: 0 });
  });

  test('a failed request marks each of its cards with the error; the queue goes on; retry classifies again, but not a file error', async () => {
    const { fake, state } = setup();
    state.addGranted(images(6));
    await settle();
    answerAll(fake);
    await settle();
    const group = fake.take('images.classify');
    group.reject(Object.assign(new Error('the engine did not answer in 60 s'), { code: 'TIMEOUT' }));
    await settle();
    expect(state.counts).toEqual({ total: 6, done: 2, failed: 4, pending: 0 });
    const timedOut = state.cards.filter((c) => c.error?.code === 'TIMEOUT');
    expect(timedOut.map((c) => c.image).sort()).toEqual([...group.params.images].sort());
    expect(timedOut[0]!.error?.message).toBe('the engine did not answer in 60 s');

    // One of them is then found to be the file's fault: retry skips it, the engine's failures go back in the queue.
    timedOut[0]!.error = { code: 'NOT_AN_IMAGE', message: 'a text file' };
    for (const card of state.cards) state.retry(card);
    await settle();
    answerAll(fake);
    await settle();
    answerAll(fake);
    await settle();
    const retried = fake
      .callsOf('images.classify')
      .slice(3)
      .flatMap((p) => (p as { images: ImageId[] }).images);
    expect(retried.sort()).toEqual(
      timedOut
        .slice(1)
        .map((c) => c.image)
        .sort(),
    );
    expect(state.counts).toEqual({ total: 6, done: 5, failed: 1, pending: 0 });
  });

  test('clear() while requests are in flight: their late answers do not bring the cards back', async () => {
    const { fake, state } = setup();
    fake.handle('sessions.clearImages', () => ({ cleared: 0 }));
    state.addGranted(images(6));
    await settle();
    state.clear();
    answerAll(fake);
    await settle();
    expect(state.cards).toEqual([]);
    // The four queued photos were dropped with the cards, not sent.
    expect(fake.callsOf('images.classify')).toHaveLength(2);
  });

  test('a dropped file the host refuses becomes an error card; the other files go on', async () => {
    const fake = new FakeTransport({
      addFiles: async (files) => {
        if (files[0]!.name === 'huge.jpg') throw Object.assign(new Error('over the 64 MB upload limit'), { code: 'FILE_TOO_LARGE' });
        return files.map((f) => ({ image: `img_upload_${f.name.replace('.', '_')}00`, name: f.name }));
      },
    });
    fake.handle('images.thumbnail', () => ({ jpeg: new Uint8Array([1]), width: 1, height: 1 }));
    fake.handle('images.classify', ({ images }) => images.map((id) => ok(id)));
    const state = new ImagesState(fake);
    state.addFiles([new File(['x'], 'a.jpg'), new File(['x'], 'huge.jpg'), new File(['x'], 'b.jpg')]);
    await settle(20);
    expect(state.cards.map((c) => [c.name, c.phase, c.error?.code])).toEqual([
      ['a.jpg', 'done', undefined],
      ['huge.jpg', 'error', 'FILE_TOO_LARGE'],
      ['b.jpg', 'done', undefined],
    ]);
  });
});

describe('ImagesState restore (the kept Images session)', () => {
  test('kept cards come back with their results; a photo no longer open says so; new drops win over a late restore', async () => {
    const { fake, state } = setup();
    fake.handle('sessions.images', () => ({
      notice: null,
      cards: [
        { image: 'img_kept000001', name: 'cat.jpg', model: 'resnet50', at: '2026-12-01T10:00:00Z', result: { top: top('tabby'), ep: 'cpu', ms: 12 } },
        { image: null, name: 'gone.jpg', model: 'resnet50', at: '2026-12-01T10:00:00Z', result: { top: top('goldfish'), ep: 'cpu', ms: 9 } },
      ],
    }));
    await state.restore();
    await settle();
    expect(state.cards).toHaveLength(2);
    expect(state.cards[0]).toMatchObject({ name: 'cat.jpg', phase: 'done', restored: true, image: 'img_kept000001', top: top('tabby') });
    expect(state.cards[0]!.thumb).toMatch(/^blob:/);
    expect(state.cards[1]).toMatchObject({ name: 'gone.jpg', phase: 'error', error: { code: 'NOT_OPEN' } });
    expect(state.cards[1]!.error?.message).toContain('goldfish');
    // A NOT_OPEN card is the photo's absence, not the engine's: no retry request.
    state.retry(state.cards[1]!);
    expect(fake.callsOf('images.classify')).toHaveLength(0);

    const late = setup();
    const restoring = late.state.restore();
    late.state.addGranted(images(1));
    late.fake
      .take('sessions.images')
      .resolve({ notice: null, cards: [{ image: 'img_kept000001', name: 'cat.jpg', model: 'm', at: '', result: { top: top('tabby'), ep: 'cpu', ms: 1 } }] });
    await restoring;
    expect(late.state.cards.map((c) => c.name)).toEqual(['p0.jpg']);
  });
});
