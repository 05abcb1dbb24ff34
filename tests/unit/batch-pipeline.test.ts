// The batch pipeline with a stand-in classifier (real files, real decoding, no onnxruntime): dynamic
// batches, commit-before-report, pause, resume and cancel within one batch, progress and totals.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BatchClassifier, type BatchProgress, BatchPipeline } from '../../src-main/engine/batch/pipeline.js';
import type { JournalRecord } from '../../src-main/engine/batch/journal.js';
import { topK } from '../../src-main/engine/infer/topk.js';
import { TORCHVISION_PREPROCESSING } from '../../src-main/engine/preprocess/preprocess.js';
import { photoLike } from '../helpers/bad-inputs.js';

const LABELS = ['red', 'green', 'blue', 'grey'];

/** Logits from each image's channel means; `gate` (when set) holds each run until released. */
class FakeClassifier implements BatchClassifier {
  readonly name = 'fake';
  readonly ep = 'cpu';
  readonly preprocessing = TORCHVISION_PREPROCESSING;
  readonly imageSize = 3 * 224 * 224;
  readonly runs: number[] = [];
  gate: Promise<void> | undefined;
  onRun?: (index: number) => void;
  constructor(
    readonly maxRunBatch = Number.POSITIVE_INFINITY,
    private readonly delayMs = 0,
  ) {}
  async run(batch: Float32Array, count: number) {
    this.runs.push(count);
    this.onRun?.(this.runs.length);
    if (this.gate) await this.gate;
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const plane = 224 * 224;
    const logits = Array.from({ length: count }, (_, i) => {
      const out = new Float32Array(4);
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let p = 0; p < plane; p++) sum += batch[i * this.imageSize + c * plane + p];
        out[c] = sum / plane;
      }
      return out;
    });
    return { logits, inferenceMs: 1 };
  }
  top(logits: Float32Array, k: number) {
    return topK(logits, k, LABELS);
  }
}

describe('batch pipeline', () => {
  let dir: string;
  let files: string[];
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'reslens-pipeline-'));
    files = [];
    for (let i = 0; i < 23; i++) {
      const sub = path.join(dir, i < 12 ? 'a' : 'b');
      await mkdir(sub, { recursive: true });
      const file = path.join(sub, `img-${String(i).padStart(2, '0')}.jpg`);
      await writeFile(file, await photoLike(160 + i, 120, 'jpeg', i + 1));
      files.push(file);
    }
    await writeFile(path.join(dir, 'b', 'broken.jpg'), 'not really a jpeg');
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  async function collect(pipeline: BatchPipeline, records: JournalRecord[]) {
    const summary = await pipeline.run();
    return { summary, paths: records.map((r) => r.path) };
  }

  it('classifies every file once (preprocessing in worker threads), in dynamic batches up to the batch size, committing before reporting', async () => {
    const classifier = new FakeClassifier();
    const records: JournalRecord[] = [];
    const committed = new Set<string>();
    const progress: BatchProgress[] = [];
    const pipeline = new BatchPipeline({
      inputs: [dir],
      classifier,
      batchSize: 4,
      decodeConcurrency: 2,
      top: 2,
      commit: async (batch) => {
        await new Promise((r) => setTimeout(r, 5));
        for (const r of batch) committed.add(r.path);
      },
      onResults: (batch) => {
        for (const r of batch) expect(committed.has(r.path)).toBe(true);
        records.push(...batch);
      },
      onProgress: (p) => progress.push(p),
    });
    const { summary, paths } = await collect(pipeline, records);
    expect(summary.state).toBe('finished');
    expect([...paths].sort()).toEqual([...files, path.join(dir, 'b', 'broken.jpg')].sort());
    expect(classifier.runs.every((n) => n >= 1 && n <= 4)).toBe(true);
    expect(classifier.runs.reduce((a, b) => a + b, 0)).toBe(23);
    const broken = records.find((r) => r.path.endsWith('broken.jpg'));
    expect(broken?.result).toMatchObject({ error: { code: 'NOT_AN_IMAGE' } });
    const good = records.find((r) => r.path === files[0]);
    expect(good?.size).toBeGreaterThan(0);
    expect(good?.mtimeMs).toBeGreaterThan(0);
    expect(good?.result).toMatchObject({ model: 'fake', ep: 'cpu' });
    expect('top' in (good?.result ?? {}) && (good?.result as { top: unknown[] }).top).toHaveLength(2);
    const last = progress.at(-1) as BatchProgress;
    expect(last).toMatchObject({ state: 'finished', total: 24, totalFinal: true, done: 24, failed: 1, resumed: 0 });
    expect(progress.some((p) => p.imagesPerSecond > 0)).toBe(true);
  });

  it('runs one image per run for a model with a fixed batch axis', async () => {
    const classifier = new FakeClassifier(1);
    const records: JournalRecord[] = [];
    await collect(
      new BatchPipeline({ inputs: [path.join(dir, 'a')], classifier, batchSize: 8, preprocessIn: 'main-thread', onResults: (b) => void records.push(...b) }),
      records,
    );
    expect(classifier.runs.every((n) => n === 1)).toBe(true);
    expect(records).toHaveLength(12);
  });

  it('skips what is already done and counts it', async () => {
    const classifier = new FakeClassifier();
    const records: JournalRecord[] = [];
    const pipeline = new BatchPipeline({
      inputs: [dir],
      classifier,
      preprocessIn: 'main-thread',
      isDone: (p) => (p.endsWith('broken.jpg') ? 'failed' : p.includes(`${path.sep}a${path.sep}`) ? 'ok' : false),
      onResults: (b) => void records.push(...b),
    });
    const { summary } = await collect(pipeline, records);
    expect(records).toHaveLength(11);
    expect(summary.progress).toMatchObject({ done: 24, resumed: 13, failed: 1, total: 24 });
  });

  it('pauses between batches and resumes', async () => {
    const classifier = new FakeClassifier(Number.POSITIVE_INFINITY, 20);
    const records: JournalRecord[] = [];
    const pipeline = new BatchPipeline({ inputs: [dir], classifier, batchSize: 2, preprocessIn: 'main-thread', onResults: (b) => void records.push(...b) });
    classifier.onRun = (n) => {
      if (n === 2) pipeline.pause();
    };
    const running = pipeline.run();
    for (let i = 0; i < 200 && pipeline.state !== 'paused'; i++) await new Promise((r) => setTimeout(r, 25));
    await new Promise((r) => setTimeout(r, 100));
    expect(pipeline.state).toBe('paused');
    expect(pipeline.progress().etaSeconds).toBeNull();
    const runsWhilePaused = classifier.runs.length;
    expect(runsWhilePaused).toBe(2);
    await new Promise((r) => setTimeout(r, 200));
    expect(classifier.runs.length).toBe(runsWhilePaused);
    pipeline.resume();
    const summary = await running;
    expect(summary.state).toBe('finished');
    expect(records).toHaveLength(24);
  });

  it('says "pausing" while the batch in flight finishes, then "paused" with its results in', async () => {
    const classifier = new FakeClassifier();
    let release: () => void = () => undefined;
    const records: JournalRecord[] = [];
    const states: BatchProgress[] = [];
    const pipeline = new BatchPipeline({
      inputs: [dir],
      classifier,
      batchSize: 2,
      preprocessIn: 'main-thread',
      onResults: (b) => void records.push(...b),
      onProgress: (p) => void states.push(p),
    });
    classifier.onRun = (n) => {
      if (n === 3) {
        classifier.gate = new Promise((r) => (release = r));
        pipeline.pause(); // asked while run 3 is in flight
      }
    };
    const running = pipeline.run();
    for (let i = 0; i < 200 && pipeline.state !== 'paused'; i++) await new Promise((r) => setTimeout(r, 25));
    expect(pipeline.progress()).toMatchObject({ state: 'paused', pausing: true });
    const before = records.length;
    classifier.gate = undefined;
    release();
    for (let i = 0; i < 200 && pipeline.progress().pausing; i++) await new Promise((r) => setTimeout(r, 10));
    expect(pipeline.progress().pausing).toBeUndefined();
    // The run in flight delivered its 2 results after the pause; nothing more arrives while paused.
    expect(records.length).toBe(before + 2);
    expect(states.at(-1)).toMatchObject({ state: 'paused' });
    expect(states.at(-1)?.pausing).toBeUndefined();
    await new Promise((r) => setTimeout(r, 150));
    expect(records.length).toBe(before + 2);
    expect(classifier.runs).toHaveLength(3);
    pipeline.resume();
    expect((await running).state).toBe('finished');
    expect(records).toHaveLength(24);
  });

  it('cancels within one batch and keeps what is done', async () => {
    const classifier = new FakeClassifier();
    let release: () => void = () => undefined;
    const records: JournalRecord[] = [];
    const pipeline = new BatchPipeline({ inputs: [dir], classifier, batchSize: 3, preprocessIn: 'main-thread', onResults: (b) => void records.push(...b) });
    classifier.onRun = (n) => {
      if (n === 3) {
        classifier.gate = new Promise((r) => (release = r));
        setTimeout(() => {
          pipeline.cancel();
          release();
        }, 100);
      }
    };
    const summary = await pipeline.run();
    expect(summary.state).toBe('cancelled');
    expect(classifier.runs).toHaveLength(3); // the running batch finished; no new one started
    expect(records.length).toBeGreaterThanOrEqual(7);
    expect(records.length).toBeLessThanOrEqual(10);
    expect(new Set(records.map((r) => r.path)).size).toBe(records.length);
    expect(summary.progress.done).toBe(records.length);
  });

  it('stops with a failure when results cannot be made durable', async () => {
    const classifier = new FakeClassifier();
    const pipeline = new BatchPipeline({
      inputs: [dir],
      classifier,
      batchSize: 2,
      preprocessIn: 'main-thread',
      commit: async () => {
        throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      },
    });
    const summary = await pipeline.run();
    expect(summary.state).toBe('failed');
    expect(summary.error?.message).toMatch(/no space left/);
    expect(summary.progress.done).toBe(0);
  });
});
