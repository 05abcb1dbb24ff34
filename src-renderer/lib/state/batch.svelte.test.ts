// BatchState against a fake transport: the results table fills from the engine's batch.rows events in
// whatever order and however often they come, rows the events missed are fetched once the run stops,
// "Pausing…" (the batch in flight finishing) becomes Paused, and a run on screen is never mixed with another's rows.
import { describe, expect, test } from 'vitest';
import type { BatchRow, FolderEntry } from '../../../src-main/api/contract.js';
import { BatchState } from './batch.svelte.js';
import { Toasts } from './toasts.svelte.js';
import { FakeTransport, settle } from './testing/fake-transport.js';
import { row, summary } from './testing/values.js';

const A = 'batch_runaaaaaa';
const B = 'batch_runbbbbbb';
const folder: FolderEntry = { folder: 'dir_photos0001', name: 'photos', path: '/photos' };
/** The table's refresh is throttled to a few a second (200 ms). */
const afterBump = () => new Promise((resolve) => setTimeout(resolve, 260));

/** The engine's batch.rows request: the run's rows from `offset`, at most `limit`. */
function rowsOf(all: BatchRow[]) {
  return ({ offset, limit }: { offset: number; limit: number }) => ({ rows: all.slice(offset, offset + limit), total: all.length });
}

async function running(total = 10): Promise<{ fake: FakeTransport; batch: BatchState; toasts: Toasts }> {
  const fake = new FakeTransport();
  fake.handle('batch.list', () => []);
  fake.handle('batch.start', () => summary(A, 'running', 0, { total }));
  const toasts = new Toasts();
  const batch = new BatchState(fake, toasts);
  batch.init();
  batch.setFolder(folder);
  await batch.start();
  return { fake, batch, toasts };
}

describe('BatchState rows from events', () => {
  test('rows arriving out of order and twice land at their offsets once each; the table is told to refresh', async () => {
    const { fake, batch } = await running();
    expect(fake.callsOf('batch.start')).toEqual([{ folder: folder.folder, top: 5 }]);
    const version = batch.version;
    fake.emit('batch.rows', { batch: A, offset: 4, rows: [row(4), row(5)] });
    fake.emit('batch.rows', { batch: A, offset: 0, rows: [row(0), row(1), row(2)] });
    fake.emit('batch.rows', { batch: A, offset: 2, rows: [row(2), row(3)] }); // a repeat overlapping the first
    expect(batch.rows.map((r) => r?.path)).toEqual([0, 1, 2, 3, 4, 5].map((i) => `photo-${i}.jpg`));
    expect(batch.filled).toBe(6);
    await afterBump();
    expect(batch.version).toBeGreaterThan(version);
  });

  test("another run's rows and progress never mix into the run on screen", async () => {
    const { fake, batch } = await running();
    fake.emit('batch.rows', { batch: A, offset: 0, rows: [row(0)] });
    fake.emit('batch.rows', { batch: B, offset: 0, rows: [{ path: 'someone-else.jpg' }, { path: 'x.jpg' }] });
    fake.emit('batch.progress', summary(B, 'running', 2));
    expect(batch.summary?.batch).toBe(A);
    expect(batch.rows.map((r) => r?.path)).toEqual(['photo-0.jpg']);
  });

  test('a new run (from the CLI or another window) is shown once the run on screen has ended, with its own rows only', async () => {
    const { fake, batch } = await running(2);
    fake.handle('batch.rows', rowsOf([row(0), row(1)]));
    fake.emit('batch.rows', { batch: A, offset: 0, rows: [row(0), row(1)] });
    fake.emit('batch.progress', summary(A, 'done', 2, { total: 2 }));
    await settle();
    expect(batch.active).toBe(false);
    fake.emit('batch.progress', summary(B, 'running', 0));
    expect(batch.summary?.batch).toBe(B);
    expect(batch.filled).toBe(0);
  });
});

describe('BatchState pause, gaps and recovery', () => {
  test('Pausing… then Paused: rows of the batch in flight still land; resume goes on; the rows the events missed are fetched when the run ends', async () => {
    const { fake, batch } = await running();
    const all = Array.from({ length: 8 }, (_, i) => row(i));
    fake.emit('batch.rows', { batch: A, offset: 0, rows: all.slice(0, 3) });
    fake.handle('batch.control', ({ action }) => summary(A, 'running', 3, { pausing: action === 'pause' }));
    await batch.control('pause');
    expect(fake.callsOf('batch.control')).toEqual([{ batch: A, action: 'pause' }]);
    expect(batch.summary).toMatchObject({ state: 'running', pausing: true });
    expect(batch.active).toBe(true);
    // The batch in flight finishes: its rows still arrive (3..4); 5..7 come in an event this page missed (a reconnect).
    fake.emit('batch.rows', { batch: A, offset: 3, rows: all.slice(3, 5) });
    expect(batch.filled).toBe(5);
    expect(fake.callsOf('batch.rows')).toHaveLength(0); // nothing fetched while still running

    fake.handle('batch.rows', rowsOf(all));
    fake.emit('batch.progress', summary(A, 'paused', 8));
    expect(batch.summary?.state).toBe('paused');
    expect(batch.summary?.pausing).toBeFalsy();
    expect(batch.active).toBe(true);
    await batch.control('resume');
    expect(batch.summary).toMatchObject({ state: 'running' });
    expect(batch.summary?.pausing).toBe(false);
    await settle();
    expect(fake.callsOf('batch.rows')).toHaveLength(0); // paused is not the end: the run may still bring them

    fake.emit('batch.progress', summary(A, 'done', 8, { total: 8 }));
    await settle();
    expect(fake.callsOf('batch.rows')).toEqual([{ batch: A, offset: 5, limit: 5000 }]);
    expect(batch.rows.map((r) => r?.path)).toEqual(all.map((r) => r.path));
  });

  // CI found it: on a loaded engine the pause took effect a second after the click, after the batch in
  // flight had delivered, and the chip went Running → Paused while 31 results still came in.
  test('Pausing… from the click on, before the engine answers; a failed pause clears it', async () => {
    const { fake, batch } = await running();
    const asked = batch.control('pause');
    expect(batch.pausing).toBe(true);
    const reply = fake.take('batch.control');
    expect(batch.pausing).toBe(true);
    reply.resolve(summary(A, 'paused', 3));
    await asked;
    expect(batch.pausing).toBe(false);
    expect(batch.summary?.state).toBe('paused');
    const again = batch.control('pause');
    fake.take('batch.control').reject(new Error('engine gone'));
    await again;
    expect(batch.pausing).toBe(false);
  });

  test('gaps in the middle are fetched from the first missing row when the run ends', async () => {
    const { fake, batch } = await running();
    const all = Array.from({ length: 9 }, (_, i) => row(i));
    fake.emit('batch.rows', { batch: A, offset: 0, rows: all.slice(0, 2) });
    fake.emit('batch.rows', { batch: A, offset: 6, rows: all.slice(6) });
    fake.handle('batch.rows', rowsOf(all));
    fake.emit('batch.progress', summary(A, 'done', 9, { total: 9 }));
    await settle();
    expect(fake.callsOf('batch.rows')[0]).toMatchObject({ offset: 2 });
    expect(batch.filled).toBe(9);
    expect(batch.rows.map((r) => r?.path)).toEqual(all.map((r) => r.path));
  });

  // Found by this test: fillGaps() wrote an ended run's rows into a run reopened meanwhile.
  test('rows fetched for a run that ended are not written into another run shown meanwhile', async () => {
    const { fake, batch } = await running(3);
    fake.emit('batch.progress', summary(A, 'done', 3, { total: 3 }));
    const forA = fake.take('batch.rows'); // the gaps of A, still on their way
    batch.adopt(summary(B, 'done', 2, { total: 2 })); // the user reopens run B from History
    const forB = fake.take('batch.rows');
    forA.resolve({ rows: [row(0), row(1), row(2)], total: 3 });
    await settle();
    forB.resolve({ rows: [{ path: 'b0.jpg' }, { path: 'b1.jpg' }], total: 2 });
    await settle();
    expect(batch.summary?.batch).toBe(B);
    expect(batch.rows.map((r) => r?.path)).toEqual(['b0.jpg', 'b1.jpg']);
  });

  test('a reloaded page finds the run still going (batch.list) and shows it with the rows so far', async () => {
    const fake = new FakeTransport();
    const all = [row(0), row(1), row(2)];
    fake.handle('batch.list', () => [summary(B, 'done', 5), summary(A, 'paused', 3)]);
    fake.handle('batch.rows', rowsOf(all));
    const batch = new BatchState(fake, new Toasts());
    batch.init();
    await settle();
    expect(batch.summary).toMatchObject({ batch: A, state: 'paused' });
    expect(batch.rows.map((r) => r?.path)).toEqual(all.map((r) => r.path));
  });

  test("a reopened run's rows come in pages; a page for a run no longer shown is dropped", async () => {
    const fake = new FakeTransport();
    fake.handle('batch.list', () => []);
    const batch = new BatchState(fake, new Toasts());
    batch.init();
    await settle();
    const many = Array.from({ length: 7003 }, (_, i) => ({ path: `a-${i}.jpg` }));
    fake.handle('batch.rows', rowsOf(many));
    batch.adopt(summary(A, 'done', 7003, { total: 7003 }));
    await settle();
    expect(fake.callsOf('batch.rows')).toEqual([
      { batch: A, offset: 0, limit: 5000 },
      { batch: A, offset: 5000, limit: 5000 },
    ]);
    expect(batch.filled).toBe(7003);

    const slow = new FakeTransport();
    slow.handle('batch.list', () => []);
    const other = new BatchState(slow, new Toasts());
    other.adopt(summary(A, 'done', 2));
    other.adopt(summary(B, 'done', 1));
    const [forA, forB] = [slow.take('batch.rows'), slow.take('batch.rows')];
    forB.resolve({ rows: [{ path: 'b.jpg' }], total: 1 });
    forA.resolve({ rows: [{ path: 'a0.jpg' }, { path: 'a1.jpg' }], total: 2 });
    await settle();
    expect(other.rows.map((r) => r?.path)).toEqual(['b.jpg']);
  });
});

describe('BatchState errors', () => {
  test('an engine without batch support says so once, without an error toast; other failures toast with their code', async () => {
    const fake = new FakeTransport();
    fake.handle('batch.list', () => []);
    fake.handle('batch.start', () => Promise.reject(Object.assign(new Error('batch mode is not available in this build'), { code: 'NOT_AVAILABLE' })));
    const toasts = new Toasts();
    const batch = new BatchState(fake, toasts);
    batch.setFolder(folder);
    await batch.start();
    expect(batch.unavailable).toBe('batch mode is not available in this build');
    expect(toasts.items).toEqual([]);
    expect(batch.starting).toBe(false);

    fake.handle('batch.start', () => Promise.reject(Object.assign(new Error('another run holds the journal'), { code: 'JOURNAL_LOCKED' })));
    await batch.start();
    expect(batch.error).toMatchObject({ code: 'JOURNAL_LOCKED' });
    expect(toasts.items).toHaveLength(1);
    expect(toasts.items[0]).toMatchObject({ kind: 'error', title: 'Could not start the batch' });
    expect(toasts.items[0]!.detail).toContain('another run holds the journal');
  });
});
