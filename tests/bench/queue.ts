// Queue benchmark (`npx tsx tests/bench/queue.ts`; part of `npm run bench`): the cost of spreading a
// batch over `reslens worker` processes through Redis, on this one machine, with Debian's
// redis-server on a free loopback port.
//
//   1. coordinator capacity: 8 stand-in workers of fixed cost (1 ms per image, no decoding) answer
//      chunks as fast as they come; the real coordinator (walk, stat, chunking, results queue,
//      dedupe, journal append + fdatasync, export) must keep up with ≥ 2,000 results/s;
//   2. real work: ResNet-50 (generated fixture, CPU) over the same photos as a local `reslens batch`,
//      with 1 and then 2 `reslens worker` processes sharing this machine's cores: throughput against
//      local and the overhead per image (target ≤ 2 ms and ≥ 90% of local with one worker).
//
// Prints a table and writes bench-results/queue-latest.json (plus a timestamped copy). Numbers taken
// while other work loads the machine are noisy: the 1-minute load average is recorded beside each.
// Environment: BENCH_QUEUE_SIM_IMAGES (default 20000), BENCH_QUEUE_IMAGES (default 32; 0 skips part 2), BENCH_QUEUE_PART (1 or 2: only that part).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { startBatch } from '../../src-main/engine/batch/run.js';
import { Classifier } from '../../src-main/engine/infer/classifier.js';
import { resolveModel } from '../../src-main/engine/model/resolve.js';
import { ModelStore } from '../../src-main/engine/model/store.js';
import { startQueueBatch } from '../../src-main/engine/queue/batch.js';
import { describeRemoteModel } from '../../src-main/engine/queue/remote-model.js';
import type { RemoteModel } from '../../src-main/engine/queue/remote-model.js';
import { TORCHVISION_PREPROCESSING } from '../../src-main/engine/preprocess/preprocess.js';
import { ensureFixture } from '../fixtures/generate.js';
import { photoLike } from '../helpers/bad-inputs.js';
import { startWorker, stopWorker, waitFor } from '../helpers/queue-processes.js';
import { RedisServer, hasRedisServer } from '../helpers/redis.js';
import { REPO_ROOT } from '../helpers/testdata.js';

const RESULTS_DIR = path.join(REPO_ROOT, 'bench-results');
const load = (): number => Math.round(os.loadavg()[0] * 100) / 100;

/** Part 1: 8 stand-in workers in a child process (tests/bench/queue-standin.ts), the real coordinator here. */
async function coordinatorCapacity(redis: RedisServer, root: string, images: number): Promise<Record<string, number>> {
  const folder = path.join(root, 'sim');
  for (let i = 0; i < images; i += 1000) {
    const sub = path.join(folder, String(i / 1000).padStart(3, '0'));
    await mkdir(sub, { recursive: true });
    await Promise.all(Array.from({ length: Math.min(1000, images - i) }, (_, j) => writeFile(path.join(sub, `${j}.jpg`), '')));
  }
  const COST_MS_PER_IMAGE = 1;
  const standins = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(REPO_ROOT, 'tests', 'bench', 'queue-standin.ts'), redis.url, '8', String(COST_MS_PER_IMAGE)],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let standinOut = '';
  standins.stdout.setEncoding('utf8').on('data', (d: string) => (standinOut += d));
  await waitFor('the stand-in workers', () => standinOut.includes('ready'));
  const labels = Array.from({ length: 1000 }, (_, i) => `class ${i}`);
  const model: RemoteModel = {
    name: 'standin',
    ep: 'workers',
    labels,
    info: { sha256: '0'.repeat(64) },
    preprocessing: {
      ...TORCHVISION_PREPROCESSING,
      mean: [...TORCHVISION_PREPROCESSING.mean] as [number, number, number],
      std: [...TORCHVISION_PREPROCESSING.std] as [number, number, number],
    },
    pretrained: false,
    maxRunBatch: Infinity,
    imageSize: 3 * 224 * 224,
    run: () => Promise.reject(new Error('stand-in')),
    top: () => [],
  };
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  let firstAt: number | undefined;
  const job = await startQueueBatch({ inputs: [folder], model, out: path.join(root, 'sim.csv'), top: 1, queue: { url: redis.url, chunkSize: 64 } });
  job.on((event) => {
    if (event.type === 'results') firstAt ??= performance.now();
  });
  const summary = await job.done;
  const ended = performance.now();
  const cpu = process.cpuUsage(cpuBefore);
  const exited = new Promise((resolve) => standins.on('close', resolve));
  standins.kill('SIGTERM');
  await exited;
  const standin = JSON.parse(standinOut.trim().split('\n').at(-1) ?? '{}') as { cpuMs: number; images: number };
  if (summary.count !== images || summary.failed !== 0)
    throw new Error(`simulated run: ${summary.count} results, ${summary.failed} failed, expected ${images}`);
  const seconds = (ended - (firstAt ?? started)) / 1000;
  return {
    images,
    chunkSize: 64,
    standInWorkers: 8,
    standInMsPerImage: COST_MS_PER_IMAGE,
    resultsPerSecond: Math.round(images / seconds),
    wallSecondsIncludingWalkAndExport: Math.round((ended - started) / 10) / 100,
    // CPU per image, independent of how loaded the machine is: the coordinator (this process: walk,
    // stat, chunking, results, dedupe, journal, export) and the worker side's queue handling (the
    // stand-in process: fetching chunks, parsing, answering; its classifier is a timer, no CPU).
    coordinatorCpuMsPerResult: Math.round(((cpu.user + cpu.system) / 1000 / images) * 1000) / 1000,
    workerQueueCpuMsPerImage: Math.round((standin.cpuMs / standin.images) * 1000) / 1000,
    // What one core of coordinator sustains at that cost.
    coordinatorCapacityPerCore: Math.round(images / ((cpu.user + cpu.system) / 1e6)),
    loadAverage1m: load(),
  };
}

/** Seconds for one run, timed here: the local pipeline in this process, or the coordinator here and warm workers. */
async function timed(run: () => Promise<{ count: number; failed: number }>, images: number): Promise<number> {
  const started = performance.now();
  const summary = await run();
  if (summary.count !== images || summary.failed !== 0) throw new Error(`run gave ${summary.count} results (${summary.failed} failed), expected ${images}`);
  return (performance.now() - started) / 1000;
}

/**
 * Part 2: local batch vs 1 and 2 real workers on ResNet-50, same photos, same machine. Both sides are
 * timed in this process (no process start-up in either number); the workers are warm (model loaded),
 * as long-running workers are. Local and one-worker runs alternate, twice each, and the best of each
 * is kept (the least disturbed by other load).
 */
async function realWork(redis: RedisServer, root: string, images: number): Promise<Record<string, unknown>> {
  const photos = path.join(root, 'photos');
  await mkdir(photos, { recursive: true });
  for (let i = 0; i < images; i++) await writeFile(path.join(photos, `p${String(i).padStart(4, '0')}.jpg`), await photoLike(640, 480, 'jpeg', i + 1));
  const modelFile = await ensureFixture({ depth: 50, bn: 'folded' });
  const env = { RESLENS_MODELS_DIR: path.join(root, 'store') };
  const store = new ModelStore(path.join(root, 'store'));
  const remote = await describeRemoteModel(modelFile, { store });
  const resolved = await resolveModel(modelFile, { store });
  const classifier = await Classifier.load({ name: resolved.name, modelPath: resolved.path, preprocessing: resolved.preprocessing, labels: resolved.labels });
  let n = 0;
  const local = () => timed(async () => (await startBatch({ inputs: [photos], classifier, out: path.join(root, `local-${++n}.csv`) })).done, images);
  const queued = () =>
    timed(
      async () => (await startQueueBatch({ inputs: [photos], model: remote, out: path.join(root, `queue-${++n}.csv`), queue: { url: redis.url } })).done,
      images,
    );
  const warm = (count: number) =>
    Promise.all(
      Array.from({ length: count }, () =>
        startQueueBatch({
          inputs: [path.join(photos, 'p0000.jpg')],
          model: remote,
          out: path.join(root, `warm-${++n}.csv`),
          queue: { url: redis.url, chunkSize: 1 },
        }).then((j) => j.done),
      ),
    );
  const rows: Record<string, unknown>[] = [];
  const row = (setup: string, seconds: number[], localSeconds?: number) => {
    const best = Math.min(...seconds);
    const entry: Record<string, unknown> = {
      setup,
      seconds: seconds.map((x) => Math.round(x * 100) / 100),
      imagesPerSecond: Math.round((images / best) * 100) / 100,
    };
    if (localSeconds !== undefined) {
      entry.ofLocal = Math.round((localSeconds / best) * 1000) / 1000;
      entry.overheadMsPerImage = Math.round(((best - localSeconds) / images) * 1000 * 100) / 100;
    }
    entry.loadAverage1m = load();
    rows.push(entry);
  };

  const one = await startWorker(redis.url, ['--model', modelFile, '--stall-timeout', '120'], env);
  await warm(1);
  const localTimes: number[] = [];
  const oneTimes: number[] = [];
  for (let rep = 0; rep < 2; rep++) {
    localTimes.push(await local());
    oneTimes.push(await queued());
  }
  const localBest = Math.min(...localTimes);
  row('local batch (this process)', localTimes);
  row('1 reslens worker', oneTimes, localBest);
  const two = await startWorker(redis.url, ['--model', modelFile, '--stall-timeout', '120'], env);
  await warm(2);
  row("2 reslens workers (sharing this machine's 2 cores)", [await queued()], localBest);
  await stopWorker(one);
  await stopWorker(two);
  await classifier.dispose();
  return { images, megapixels: 0.3, model: 'resnet50 (generated fixture, folded BN), CPU, default batch and threads', rows };
}

async function main(): Promise<void> {
  if (!hasRedisServer) {
    console.log('queue bench skipped: no redis-server (apt install redis-server, as .ci/run does)');
    return;
  }
  const root = await mkdtemp(path.join(os.tmpdir(), 'reslens-queue-bench-'));
  const redis = await RedisServer.start({ appendOnly: true });
  try {
    const report: Record<string, unknown> = {
      date: new Date().toISOString(),
      machine: { cores: os.availableParallelism(), cpu: os.cpus()[0]?.model, loadAverageAtStart: os.loadavg() },
      redis: 'Debian redis-server, AOF everysec, loopback',
    };
    const part = process.env.BENCH_QUEUE_PART;
    if (part !== '2') {
      const sim = await coordinatorCapacity(redis, root, Number(process.env.BENCH_QUEUE_SIM_IMAGES ?? 20_000));
      report.coordinator = { ...sim, target: 2000, meetsTarget: sim.resultsPerSecond >= 2000 };
      console.log('coordinator capacity (8 stand-in workers):', report.coordinator);
    }
    const images = Number(process.env.BENCH_QUEUE_IMAGES ?? 32);
    if (images > 0 && part !== '1') {
      report.realWork = await realWork(redis, root, images);
      console.table((report.realWork as { rows: object[] }).rows);
    }
    await mkdir(RESULTS_DIR, { recursive: true });
    const json = `${JSON.stringify(report, null, 2)}\n`;
    await writeFile(path.join(RESULTS_DIR, 'queue-latest.json'), json);
    await writeFile(path.join(RESULTS_DIR, `queue-${String(report.date).replace(/[:.]/g, '-')}.json`), json);
    console.log(`results written to ${path.relative(process.cwd(), path.join(RESULTS_DIR, 'queue-latest.json'))}`);
  } finally {
    await redis.close();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
