// The coordinator's failure rules against a real redis-server, with stand-in workers (plain BullMQ
// consumers of fixed behaviour, no model) so each rule can be provoked on purpose: a chunk that fails
// every time is halved down to the one image to blame (a WORKER_FAILED row and a dead letter, the rest
// classified); second answers, answers for foreign paths and malformed messages change nothing.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Queue, Worker, type Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBatch } from '../../src-main/engine/batch/run.js';
import { startQueueBatch } from '../../src-main/engine/queue/batch.js';
import { queueClient } from '../../src-main/engine/queue/connection.js';
import { QueueCoordinator } from '../../src-main/engine/queue/coordinator.js';
import { CHUNKS_QUEUE, ChunkJobSchema, DEAD_QUEUE, PROTOCOL_VERSION, QUEUE_PREFIX, resultsQueueName } from '../../src-main/engine/queue/protocol.js';
import type { RemoteModel } from '../../src-main/engine/queue/remote-model.js';
import { TORCHVISION_PREPROCESSING } from '../../src-main/engine/preprocess/preprocess.js';
import { RedisServer, hasRedisServer } from '../helpers/redis.js';

const labels = Array.from({ length: 1000 }, (_, i) => `label-${i}`);
const model: RemoteModel = {
  name: 'standin',
  ep: 'workers',
  labels,
  info: { sha256: 'a'.repeat(64) },
  preprocessing: { ...TORCHVISION_PREPROCESSING, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  maxRunBatch: Infinity,
  imageSize: 3 * 224 * 224,
  run: () => Promise.reject(new Error('stand-in')),
  top: () => [],
};

/** A stand-in worker that answers every chunk with one fixed class, once `onChunk` (which may hold it) is done. */
function answeringWorker(connection: ReturnType<typeof queueClient>, onChunk: (paths: string[]) => void | Promise<void>): Worker {
  const stand = new Worker(
    CHUNKS_QUEUE,
    async (job: Job) => {
      const chunk = ChunkJobSchema.parse(job.data);
      await onChunk(chunk.paths);
      const results = new Queue(resultsQueueName(chunk.run), { connection, prefix: QUEUE_PREFIX });
      // Under the chunk's id, as the real worker answers (queue/worker.ts).
      await results.add(
        'results',
        {
          v: PROTOCOL_VERSION,
          chunk: String(job.id),
          worker: 'stand:1',
          results: chunk.paths.map((p) => ({ path: p, top: [{ index: 3, prob: 0.5 }], ep: 'cpu', ms: 1 })),
        },
        { jobId: String(job.id) },
      );
      await results.close();
    },
    { connection, prefix: QUEUE_PREFIX, drainDelay: 1, concurrency: 1 },
  );
  stand.on('error', () => undefined);
  return stand;
}

describe.skipIf(!hasRedisServer)('queue coordinator failure rules (real Redis, stand-in workers)', () => {
  let redis: RedisServer;
  let root: string;
  beforeAll(async () => {
    redis = await RedisServer.start();
    root = await mkdtemp(path.join(os.tmpdir(), 'reslens-coordinator-'));
  });
  afterAll(async () => {
    await redis?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('halves a chunk that keeps failing down to the poisoned image; duplicates and junk are ignored', async () => {
    const folder = path.join(root, 'photos');
    await mkdir(folder, { recursive: true });
    const names = ['a.jpg', 'b.jpg', 'c.jpg', 'd.jpg', 'poison.jpg', 'f.jpg', 'g.jpg', 'h.jpg'];
    for (const name of names) await writeFile(path.join(folder, name), name);
    const connection = queueClient(redis.url);
    const seen: string[][] = [];
    const stand = new Worker(
      CHUNKS_QUEUE,
      async (job: Job) => {
        const chunk = ChunkJobSchema.parse(job.data);
        seen.push(chunk.paths);
        if (chunk.paths.some((p) => p.endsWith('poison.jpg'))) throw new Error('worker crashed on this chunk');
        const results = new Queue(resultsQueueName(chunk.run), { connection, prefix: QUEUE_PREFIX });
        const answer = (worker: string) => ({
          v: PROTOCOL_VERSION,
          chunk: String(job.id),
          worker,
          results: chunk.paths.map((p, i) => ({ path: p, top: [{ index: 10 + i, prob: 0.25 }], ep: 'cpu', ms: 1 })),
        });
        await results.add('results', answer('first:1'));
        await results.add('results', answer('second:2')); // a retried chunk's late second answer
        await results.add('results', {
          ...answer('stranger:3'),
          results: [{ path: '/not/in/this/run.jpg', top: [{ index: 1, prob: 0.5 }], ep: 'cpu', ms: 1 }],
        });
        await results.add('results', { v: 99, junk: true });
        await results.close();
      },
      { connection, prefix: QUEUE_PREFIX, drainDelay: 1 },
    );
    stand.on('error', () => undefined);
    const notices: string[] = [];
    const out = path.join(root, 'results.jsonl');
    const job = await startQueueBatch({
      inputs: [folder],
      model,
      out,
      top: 1,
      queue: { url: redis.url, chunkSize: 8, attempts: 1, reconcileMs: 200 },
      onEvent: (e) => e.type === 'notice' && notices.push(e.message),
    });
    const summary = await job.done;
    await stand.close();

    expect(summary.state).toBe('finished');
    expect(summary.count).toBe(8);
    expect(summary.failed).toBe(1);
    const lines = (await readFile(out, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { path: string; top?: { index: number; label: string }[]; error?: { code: string }; worker?: string });
    expect(lines.map((l) => path.basename(l.path)).sort()).toEqual([...names].sort());
    const poison = lines.find((l) => l.path.endsWith('poison.jpg'));
    expect(poison?.error?.code).toBe('WORKER_FAILED');
    for (const line of lines.filter((l) => l !== poison)) {
      expect(line.worker).toBe('first:1'); // the first answer stands
      expect(line.top?.[0].label).toBe(labels[line.top?.[0].index ?? -1]); // labels come from the coordinator
    }
    // 8 → 4 → 2 → 1: the chunk was halved three times.
    expect(seen.map((c) => c.length)).toEqual(expect.arrayContaining([8, 4, 2, 1]));
    expect(notices.some((n) => /malformed result message/.test(n))).toBe(true);
    const journal = (await readFile(`${out}.reslens-journal.jsonl`, 'utf8')).split('\n').filter((l) => l.includes('"result"'));
    expect(journal).toHaveLength(8);
    const dead = new Queue(DEAD_QUEUE, { connection, prefix: QUEUE_PREFIX });
    const letters = await dead.getJobs(['waiting']);
    expect(letters.map((l) => (l.data as { paths: string[] }).paths)).toEqual([[path.join(folder, 'poison.jpg')]]);
    await dead.close();
    connection.disconnect();
  });

  it('a pause asked before the run starts holds every chunk back until resume; the run then finishes (the run control of the local pipeline)', async () => {
    const folder = path.join(root, 'paused');
    await mkdir(folder, { recursive: true });
    for (let i = 0; i < 6; i++) await writeFile(path.join(folder, `p${i}.jpg`), `p${i}`);
    const connection = queueClient(redis.url);
    const seen: string[] = [];
    const stand = answeringWorker(connection, (paths) => void seen.push(...paths));
    const states: string[] = [];
    const job = await startQueueBatch({
      inputs: [folder],
      model,
      out: path.join(root, 'paused.jsonl'),
      top: 1,
      queue: { url: redis.url, chunkSize: 2, reconcileMs: 200 },
      onEvent: (e) => e.type === 'progress' && states.push(e.progress.state),
    });
    job.pause(); // before the run has started (it starts on the next turn of the event loop)
    expect(job.progress()).toMatchObject({ state: 'paused', done: 0, workers: [] });
    await new Promise((r) => setTimeout(r, 1500));
    expect(seen).toEqual([]);
    expect(job.progress().state).toBe('paused');
    job.resume();
    const summary = await job.done;
    await stand.close();
    connection.disconnect();
    expect(summary.state).toBe('finished');
    expect(summary.count).toBe(6);
    expect([...seen].sort()).toEqual(Array.from({ length: 6 }, (_, i) => path.join(folder, `p${i}.jpg`)));
    expect(states[0]).toBe('paused');
    expect(states).toContain('running');
    expect(states.at(-1)).toBe('finished');
  });

  it('a pause while a chunk is with a worker says "pausing" until that chunk has answered, then plain paused; no other chunk goes out', async () => {
    const folder = path.join(root, 'pausing');
    await mkdir(folder, { recursive: true });
    for (let i = 0; i < 6; i++) await writeFile(path.join(folder, `q${i}.jpg`), `q${i}`);
    const connection = queueClient(redis.url);
    const seen: string[][] = [];
    let letGo: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (letGo = resolve));
    let took: () => void = () => undefined;
    const taken = new Promise<void>((resolve) => (took = resolve));
    const stand = answeringWorker(connection, async (paths) => {
      seen.push(paths);
      took();
      await held; // the chunk stays out until the test lets it answer
    });
    const job = await startQueueBatch({
      inputs: [folder],
      model,
      out: path.join(root, 'pausing.jsonl'),
      top: 1,
      queue: { url: redis.url, chunkSize: 2, window: 1, reconcileMs: 200 },
    });
    await taken;
    job.pause();
    expect(job.progress()).toMatchObject({ state: 'paused', pausing: true, done: 0 });
    letGo();
    await expect.poll(() => job.progress().done, { timeout: 10_000 }).toBe(2);
    expect(job.progress().state).toBe('paused');
    expect(job.progress().pausing).toBeUndefined();
    await new Promise((r) => setTimeout(r, 1000));
    expect(seen).toHaveLength(1); // paused: nothing more was sent
    job.resume();
    const summary = await job.done;
    await stand.close();
    connection.disconnect();
    expect(summary.state).toBe('finished');
    expect(summary.count).toBe(6);
  });

  it('answers the consumer leaves unread (its blocking client wedged after a Redis restart) are read by the reconcile tick: the run still ends, each image once', async () => {
    const folder = path.join(root, 'wedged');
    await mkdir(folder, { recursive: true });
    for (let i = 0; i < 5; i++) await writeFile(path.join(folder, `w${i}.jpg`), `w${i}`);
    const connection = queueClient(redis.url);
    const stand = answeringWorker(connection, () => undefined);
    // The consumer is a real BullMQ Worker that never runs: what a wedged one looks like from Redis.
    class WedgedConsumer extends QueueCoordinator {
      protected override createConsumer(name: string, common: { connection: ReturnType<typeof queueClient>; prefix: string }): Worker {
        return new Worker(name, async () => undefined, { ...common, autorun: false });
      }
    }
    const notices: string[] = [];
    const out = path.join(root, 'wedged.jsonl');
    const job = await startBatch({
      inputs: [folder],
      classifier: model,
      out,
      top: 1,
      onEvent: (e) => e.type === 'notice' && notices.push(e.message),
      runner: (options) => new WedgedConsumer(options, model, { url: redis.url, chunkSize: 2, reconcileMs: 100 }, async () => 'feed0000beef0001'),
    });
    const summary = await job.done;
    await stand.close();
    expect(summary.state).toBe('finished');
    expect(summary.count).toBe(5);
    expect(summary.failed, await readFile(out, 'utf8')).toBe(0);
    const lines = (await readFile(out, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { path: string; worker?: string });
    expect(lines.map((l) => path.basename(l.path)).sort()).toEqual(['w0.jpg', 'w1.jpg', 'w2.jpg', 'w3.jpg', 'w4.jpg']);
    expect(lines.every((l) => l.worker === 'stand:1')).toBe(true);
    expect(notices.filter((n) => /reading answers directly/.test(n))).toHaveLength(1); // said once per run
    // Nothing of the run is left in Redis: the answers read by the tick were removed, the queue obliterated.
    expect(await connection.keys(`${QUEUE_PREFIX}:${resultsQueueName('feed0000beef0001')}*`)).toEqual([]);
    connection.disconnect();
  });
});
