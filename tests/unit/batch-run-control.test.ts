// The run control both batch runners extend (engine/batch/run-control.ts), driven by the smallest
// runner there can be: it walks real files, admits them (real stat, the resume check), "classifies"
// each by committing a record, and counts the folder with the real count walk. What is asserted is
// the shared behaviour the local pipeline and the queue coordinator rely on: the admit step's three
// outcomes, the state machine and its wake/stop calls, progress events (forced and throttled, with the
// runner's own fields), totals, time left only once the count is final, and the summary.
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JournalRecord } from '../../src-main/engine/batch/journal.js';
import { type BatchProgress, type IsDone, NO_KEY, type PipelineSummary, RunControl } from '../../src-main/engine/batch/run-control.js';
import { walkInputs } from '../../src-main/engine/batch/walk.js';
import { ErrorCode } from '../../src-main/engine/core/vocabulary.js';

type ListProgress = BatchProgress & { runner: 'list' };

interface ListRunOptions {
  inputs: string[];
  isDone?: IsDone;
  /** Called before each walked item is admitted (a test deletes a file here: "vanished mid-run"). */
  beforeAdmit?: (file: string) => Promise<void> | void;
  /** Time each image takes to "classify". */
  stepMs?: number;
  /** The count walk starts once this resolves (default at once). */
  countWhen?: Promise<void>;
  /** Makes records durable; a throw fails the run, as a full disk does. */
  commit?: (records: JournalRecord[]) => Promise<void>;
  onProgress?: (progress: ListProgress) => void;
  progressIntervalMs?: number;
  /** Called after each committed image with how many are done (a test pauses or cancels here). */
  afterCommit?: (done: number) => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A runner in the pipeline's shape: one image at a time, committed before it is counted. */
class ListRun extends RunControl<ListProgress> {
  readonly calls: ('wake' | 'stop')[] = [];
  readonly records: JournalRecord[] = [];

  constructor(private readonly options: ListRunOptions) {
    super({ failureCode: ErrorCode.INFERENCE_FAILED, onProgress: options.onProgress, progressIntervalMs: options.progressIntervalMs });
  }

  protected override describe(progress: BatchProgress): ListProgress {
    return { ...progress, runner: 'list' };
  }

  protected override onWake(): void {
    this.calls.push('wake');
  }

  protected override onStop(): void {
    this.calls.push('stop');
  }

  async run(): Promise<PipelineSummary> {
    this.start();
    const counting = (this.options.countWhen ?? Promise.resolve()).then(() => this.startCounting(this.options.inputs, undefined));
    try {
      for await (const item of walkInputs(this.options.inputs)) {
        await this.waitWhilePaused();
        if (this.stopping) break;
        await this.options.beforeAdmit?.(item.path);
        const admitted = await this.admit(item, this.options.isDone);
        if (!admitted) continue;
        this.markAdmitted();
        if (this.options.stepMs) await sleep(this.options.stepMs);
        const { key, error } = admitted;
        const result = error ? { path: item.path, error } : { path: item.path, top: [], model: 'list', ep: 'cpu', ms: 0 };
        const record: JournalRecord = { path: item.path, ...key, result };
        await this.options.commit?.([record]);
        this.records.push(record);
        this.countCommitted([record]);
        this.emitProgress(true);
        this.options.afterCommit?.(this.records.length);
      }
    } catch (error) {
      this.fail(error);
    }
    await counting;
    return this.finish();
  }
}

describe('run control (shared by the batch pipeline and the queue coordinator)', () => {
  let root: string;
  /** 12 files. */
  let dir: string;
  /** 30 files, for the run that must last long enough for a rate to settle. */
  let slow: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'reslens-run-control-'));
    dir = path.join(root, 'photos');
    slow = path.join(root, 'slow');
    await mkdir(dir);
    await mkdir(slow);
    // Image extensions are listed by name (the walk does not read them): content does not matter here.
    for (let i = 0; i < 12; i++) await writeFile(path.join(dir, `img-${i}.jpg`), `image ${i}`);
    for (let i = 0; i < 30; i++) await writeFile(path.join(slow, `img-${i}.jpg`), `image ${i}`);
  });
  afterAll(async () => rm(root, { recursive: true, force: true }));

  it('admits new files with their size and mtime, counts done ones as resumed without a result, and gives unreadable ones an error', async () => {
    const sub = path.join(root, 'admit');
    await mkdir(sub);
    const names = ['done-ok.jpg', 'done-failed.jpg', 'changed.jpg', 'vanished-ok.jpg', 'vanished.jpg', 'new.jpg'];
    for (const name of names) await writeFile(path.join(sub, name), name);
    const missing = path.join(root, 'no-such-folder');
    const seenKeys = new Map<string, unknown>();
    const run = new ListRun({
      inputs: [sub, missing],
      beforeAdmit: async (f) => {
        if (f.includes('vanished')) await unlink(f);
      },
      isDone: (f, key) => {
        seenKeys.set(path.basename(f), key);
        const name = path.basename(f);
        if (name === 'done-ok.jpg' || (name === 'vanished-ok.jpg' && key === null)) return 'ok';
        if (name === 'done-failed.jpg') return 'failed';
        return false;
      },
    });
    const summary = await run.run();
    const byName = new Map(run.records.map((r) => [path.basename(r.path), r]));
    expect([...byName.keys()].sort()).toEqual(['changed.jpg', 'new.jpg', 'no-such-folder', 'vanished.jpg']);
    // A readable file: its real size and mtime (the resume key), no error.
    expect(byName.get('new.jpg')).toMatchObject({ size: 'new.jpg'.length });
    expect(byName.get('new.jpg')?.mtimeMs).toBeGreaterThan(0);
    expect('error' in (byName.get('new.jpg')?.result ?? {})).toBe(false);
    // Vanished between the walk and its stat, never done before: FILE_NOT_FOUND with no key.
    expect(byName.get('vanished.jpg')).toMatchObject({ ...NO_KEY, result: { error: { code: ErrorCode.FILE_NOT_FOUND } } });
    expect(seenKeys.get('vanished.jpg')).toBeNull();
    // The walk's own error item (an input that does not exist) is asked about with NO_KEY and gets a row.
    expect(seenKeys.get('no-such-folder')).toEqual(NO_KEY);
    expect(byName.get('no-such-folder')).toMatchObject({ ...NO_KEY, result: { error: { code: ErrorCode.FILE_NOT_FOUND } } });
    // 3 resumed (ok, failed, vanished-but-done-before), 1 of them failed; 4 processed, 2 of them failed.
    expect(summary.progress).toMatchObject({ state: 'finished', done: 7, resumed: 3, failed: 3, total: 7, totalFinal: true, runner: 'list' });
    expect(summary.state).toBe('finished');
    expect(summary.error).toBeUndefined();
  });

  it('pauses (producers wait, time left is hidden), resumes (waking the runner), and ignores moves its state does not allow', async () => {
    const events: ListProgress[] = [];
    // Unforced events (the count walk's) held back, so each state change is exactly one event.
    const run: ListRun = new ListRun({
      inputs: [dir],
      progressIntervalMs: 60_000,
      onProgress: (p) => events.push(p),
      afterCommit: (done) => done === 3 && run.pause(),
    });
    run.resume(); // not paused: nothing happens
    expect(run.state).toBe('running');
    expect(run.calls).toEqual([]);
    const running = run.run();
    for (let i = 0; i < 200 && run.state !== 'paused'; i++) await sleep(10);
    await sleep(100);
    // Nothing admitted while paused: the walk waits in waitWhilePaused.
    expect(run.state).toBe('paused');
    expect(run.records).toHaveLength(3);
    expect(run.progress()).toMatchObject({ state: 'paused', done: 3, etaSeconds: null, runner: 'list' });
    run.pause(); // already paused: no second event
    const pausedEvents = events.filter((e) => e.state === 'paused');
    expect(pausedEvents).toHaveLength(1);
    run.resume();
    expect(run.calls).toEqual(['wake']); // resume wakes the runner's loops, releases nothing
    const summary = await running;
    expect(summary.state).toBe('finished');
    expect(run.records).toHaveLength(12);
    // Every state change is an event, in order; the last one carries the final total.
    const states = events.map((e) => e.state).filter((s, i, all) => i === 0 || s !== all[i - 1]);
    expect(states).toEqual(['running', 'paused', 'running', 'finished']);
    expect(events.at(-1)).toMatchObject({ state: 'finished', done: 12, total: 12, totalFinal: true });
    run.cancel(); // after the end: nothing happens
    expect(run.state).toBe('finished');
    expect(run.calls).toEqual(['wake']);
  });

  it('cancels a paused run: the waiting producer is released, work already done is kept, the summary says cancelled', async () => {
    const events: ListProgress[] = [];
    // 30 ms an image: the count walk (12 files) is over long before the fifth.
    const run: ListRun = new ListRun({ inputs: [dir], stepMs: 30, onProgress: (p) => events.push(p), afterCommit: (done) => done === 5 && run.pause() });
    const running = run.run();
    for (let i = 0; i < 200 && run.state !== 'paused'; i++) await sleep(10);
    run.cancel();
    expect(run.state).toBe('cancelling');
    run.cancel(); // a second cancel changes nothing
    expect(run.calls).toEqual(['wake', 'stop']);
    const summary = await running;
    expect(summary.state).toBe('cancelled');
    expect(run.records).toHaveLength(5);
    // A stopped run's total stays the count walk's (12 files), not what was done.
    expect(summary.progress).toMatchObject({ state: 'cancelled', done: 5, total: 12 });
    expect(events.map((e) => e.state)).toContain('cancelling');
  });

  it("fails with the runner's code for an error that has none, and stops as a cancel does", async () => {
    let commits = 0;
    const run = new ListRun({
      inputs: [dir],
      commit: async () => {
        if (++commits === 4) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      },
    });
    const summary = await run.run();
    expect(summary.state).toBe('failed');
    expect(summary.error).toMatchObject({ code: ErrorCode.INFERENCE_FAILED, message: expect.stringMatching(/no space left/) });
    expect(summary.progress.done).toBe(3); // the failed commit is not counted
    expect(run.calls).toEqual(['wake', 'stop']);
  });

  it('throttles unforced progress events, and hides time left until the count walk is final even once the rate has settled', async () => {
    const events: ListProgress[] = [];
    let startCount: () => void = () => undefined;
    const countWhen = new Promise<void>((resolve) => (startCount = resolve));
    // An interval longer than the run: only forced events (the start, one per image, the end) come out.
    const run = new ListRun({ inputs: [slow], stepMs: 250, countWhen, onProgress: (p) => events.push(p), progressIntervalMs: 60_000 });
    const running = run.run();
    // 30 images at ~4/s: after 4.5 s the smoothed rate has settled (eta.ts: 3 s and 8 results at least)...
    await sleep(4500);
    const before = run.progress();
    expect(before.totalFinal).toBe(false);
    expect(before.total).toBe(before.done); // nothing counted yet: the total is what is known
    expect(before.imagesPerSecond).toBeGreaterThan(0);
    expect(before.etaSeconds).toBeNull();
    startCount();
    for (let i = 0; i < 100 && !run.progress().totalFinal; i++) await sleep(20);
    const after = run.progress();
    expect(after).toMatchObject({ totalFinal: true, total: 30 });
    expect(after.done).toBeLessThan(30);
    // ...so once the total is final there is a time left to show (the queue showed one before the count, too).
    expect(after.etaSeconds).toEqual(expect.any(Number));
    const summary = await running;
    expect(events).toHaveLength(1 + 30 + 1);
    // Stats: activeSeconds runs from the first admitted image to the last result, rounded to ms.
    expect(summary.stats.activeSeconds).toBeGreaterThan(6);
    expect(Math.abs(summary.stats.activeSeconds * 1000 - Math.round(summary.stats.activeSeconds * 1000))).toBeLessThan(1e-6);
  });
});
