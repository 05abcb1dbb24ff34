// `npm run bench:startup`: how long `reslens` takes as a whole process, as people and scripts run
// it. `--help` (must not load onnxruntime or sharp), one-photo `classify` warm (page cache and
// ResLens' model caches filled by an earlier run) and cold (the files it reads dropped from the
// page cache first), and 200 small JPEGs in one `classify --json --batch 8` process against
// onnxruntime's inference-only rate on pre-made tensors in this process. Writes
// bench-results/startup-latest.json (and a timestamped copy); the load average is recorded beside
// every number because the machine is shared.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { Classifier } from '../../src-main/engine/infer/classifier.js';
import { loadLabels } from '../../src-main/engine/model/labels.js';
import { TORCHVISION_PREPROCESSING, preprocessFile } from '../../src-main/engine/preprocess/preprocess.js';
import { ensureFixture } from '../fixtures/generate.js';
import { REFERENCE_MODEL, REPO_ROOT, TESTDATA } from '../helpers/testdata.js';
import { benchPhotoSets } from './batch-photos.js';

const RESULTS_DIR = path.join(REPO_ROOT, 'bench-results');
const BIN = path.join(REPO_ROOT, 'bin', 'reslens.js');
const RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 5);
const TARGETS = { helpSeconds: 0.3, onePhotoWarmSeconds: 1.0, wholeProcessRatio: 0.7 };

const load = (): number => Math.round(os.loadavg()[0] * 100) / 100;
const round = (n: number, places = 3): number => Math.round(n * 10 ** places) / 10 ** places;
const round2 = (n: number): number => Math.round(n * 100) / 100;
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

interface Timed {
  seconds: number;
  load: number;
}

function timeCli(args: string[], env: NodeJS.ProcessEnv = {}): Timed {
  const before = load();
  const start = performance.now();
  const result = spawnSync(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  const seconds = (performance.now() - start) / 1000;
  if (result.status !== 0) throw new Error(`reslens ${args.join(' ')} exited ${result.status}: ${result.stderr.slice(-2000)}`);
  return { seconds: round(seconds), load: Math.max(before, load()) };
}

/** Every file under the given paths (folders walked). */
function filesUnder(paths: string[]): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    if (!existsSync(p)) return;
    const info = statSync(p);
    if (info.isDirectory()) for (const entry of readdirSync(p)) walk(path.join(p, entry));
    else if (info.isFile()) out.push(p);
  };
  for (const p of paths) walk(p);
  return out;
}

/**
 * Drops files from the page cache. /proc/sys/vm/drop_caches needs root outside a container; where
 * it cannot be written, each file ResLens reads is dropped on its own (GNU dd's iflag=nocache:
 * posix_fadvise DONTNEED), which needs no privileges.
 */
function dropCaches(files: string[]): string {
  const all = spawnSync('sh', ['-c', 'sync && echo 3 > /proc/sys/vm/drop_caches'], { encoding: 'utf8' });
  if (all.status === 0) return 'drop_caches (whole page cache)';
  for (const file of files) spawnSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']);
  return `per file (dd iflag=nocache) over ${files.length} files: model, ResLens caches, bundle, node_modules`;
}

async function inferenceOnlyRate(model: string, sample: Float32Array, batch: number): Promise<number> {
  const classifier = await Classifier.load({
    name: 'bench',
    modelPath: model,
    preprocessing: TORCHVISION_PREPROCESSING,
    labels: await loadLabels(),
    ep: 'cpu',
  });
  try {
    const packed = new Float32Array(sample.length * batch);
    for (let i = 0; i < batch; i++) packed.set(sample, i * sample.length);
    await classifier.run(packed, batch);
    const runs = 4;
    const start = performance.now();
    for (let r = 0; r < runs; r++) await classifier.run(packed, batch);
    return (runs * batch) / ((performance.now() - start) / 1000);
  } finally {
    await classifier.dispose();
  }
}

async function main(): Promise<void> {
  const model = existsSync(REFERENCE_MODEL) ? REFERENCE_MODEL : await ensureFixture({ depth: 50, bn: 'folded' });
  const photo = existsSync(path.join(TESTDATA, 'images', 'kite_by_Risto_Saukonpaa.jpg'))
    ? path.join(TESTDATA, 'images', 'kite_by_Risto_Saukonpaa.jpg')
    : (await benchPhotoSets({ small: 200, large: 0 })).small[0];
  const classifyArgs = ['classify', photo, '--model', model, '--ep', 'cpu', '--json'];
  const machine = {
    cpu: os.cpus()[0]?.model,
    cores: os.availableParallelism(),
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    onnxruntime: ort.env.versions.common,
  };
  console.log(
    `startup bench · ${machine.cpu} · ${machine.cores} cores · load ${os
      .loadavg()
      .map((n) => n.toFixed(2))
      .join(' ')}`,
  );

  // The first run builds the bundle if the sources changed, and fills ResLens' caches.
  timeCli(['--help']);
  timeCli(classifyArgs);

  const help = Array.from({ length: RUNS }, () => timeCli(['--help']));
  console.log(
    `--help                 median ${median(help.map((t) => t.seconds)).toFixed(3)} s  (runs ${help.map((t) => t.seconds.toFixed(2)).join(' ')}; load ${help.map((t) => t.load).join(' ')})`,
  );
  const helpFromSource = Array.from({ length: 3 }, () => timeCli(['--help'], { RESLENS_FROM_SOURCE: '1' }));
  console.log(`--help (tsx, sources)  median ${median(helpFromSource.map((t) => t.seconds)).toFixed(3)} s`);

  const warm = Array.from({ length: RUNS }, () => timeCli(classifyArgs));
  console.log(
    `classify 1 photo warm  median ${median(warm.map((t) => t.seconds)).toFixed(3)} s  (runs ${warm.map((t) => t.seconds.toFixed(2)).join(' ')}; load ${warm.map((t) => t.load).join(' ')})`,
  );

  // The same without the huge-pages child (bin/huge-pages.js): what platforms without THP get.
  const warmPlain = Array.from({ length: Math.min(RUNS, 3) }, () => timeCli(classifyArgs, { RESLENS_HUGE_PAGES: '0' }));
  console.log(
    `  … without huge pages median ${median(warmPlain.map((t) => t.seconds)).toFixed(3)} s  (runs ${warmPlain.map((t) => t.seconds.toFixed(2)).join(' ')}; load ${warmPlain.map((t) => t.load).join(' ')})`,
  );

  const cacheHome = path.join(os.homedir(), '.cache', 'reslens');
  const coldFiles = filesUnder([
    model,
    photo,
    cacheHome,
    path.join(REPO_ROOT, 'dist', 'node', 'cli'),
    path.join(REPO_ROOT, 'node_modules', 'onnxruntime-node'),
    path.join(REPO_ROOT, 'node_modules', '@img'),
    path.join(REPO_ROOT, 'node_modules', 'sharp'),
  ]);
  let coldMethod = '';
  const cold: Timed[] = [];
  for (let i = 0; i < Math.min(RUNS, 3); i++) {
    coldMethod = dropCaches(coldFiles);
    cold.push(timeCli(classifyArgs));
  }
  console.log(
    `classify 1 photo cold  median ${median(cold.map((t) => t.seconds)).toFixed(3)} s  (runs ${cold.map((t) => t.seconds.toFixed(2)).join(' ')}; load ${cold.map((t) => t.load).join(' ')}; cache dropped ${coldMethod})`,
  );

  // Whole process vs inference alone, ResNet-50 at batch 8, in one run of this bench.
  const { smallDir, small } = await benchPhotoSets({ small: 200, large: 0 });
  const sample = (await preprocessFile(small[0], TORCHVISION_PREPROCESSING)).tensor;
  // Interleaved: inference-only, whole process, inference-only, … so load that changes during the
  // bench hits both sides; each whole run is compared with the mean of the inference-only runs on
  // either side of it, and the median ratio is reported.
  const rounds = Number(process.env.BENCH_STARTUP_ROUNDS ?? 3);
  const inferenceRates = [await inferenceOnlyRate(model, sample, 8)];
  const wholeRuns: (Timed & { imagesPerSecond: number; ratio: number })[] = [];
  for (let round = 0; round < rounds; round++) {
    const run = timeCli(['classify', smallDir, '--model', model, '--ep', 'cpu', '--json', '--batch', '8']);
    inferenceRates.push(await inferenceOnlyRate(model, sample, 8));
    const imagesPerSecond = small.length / run.seconds;
    const around = (inferenceRates[round] + inferenceRates[round + 1]) / 2;
    wholeRuns.push({ ...run, imagesPerSecond: round2(imagesPerSecond), ratio: round2(imagesPerSecond / around) });
  }
  const ratio = median(wholeRuns.map((r) => r.ratio));
  const wholeRate = median(wholeRuns.map((r) => r.imagesPerSecond));
  const inferenceRate = median(inferenceRates);
  const whole = { seconds: median(wholeRuns.map((r) => r.seconds)), load: Math.max(...wholeRuns.map((r) => r.load)) };
  console.log(
    `200 small JPEGs        ${wholeRate.toFixed(1)} img/s as a whole process vs ${inferenceRate.toFixed(1)} img/s inference only: ratio ${ratio.toFixed(2)} (median of ${rounds} interleaved rounds: ${wholeRuns.map((r) => r.ratio.toFixed(2)).join(' ')}; target ≥ ${TARGETS.wholeProcessRatio}; load ${wholeRuns.map((r) => r.load).join(' ')})`,
  );

  const report = {
    kind: 'startup',
    date: new Date().toISOString(),
    machine,
    model: path.basename(model),
    photo: path.basename(photo),
    targets: TARGETS,
    help: { medianSeconds: median(help.map((t) => t.seconds)), runs: help, fromSourceMedianSeconds: median(helpFromSource.map((t) => t.seconds)) },
    classifyOnePhoto: {
      warm: { medianSeconds: median(warm.map((t) => t.seconds)), runs: warm },
      warmWithoutHugePages: { medianSeconds: median(warmPlain.map((t) => t.seconds)), runs: warmPlain },
      cold: { medianSeconds: median(cold.map((t) => t.seconds)), runs: cold, cacheDrop: coldMethod },
    },
    wholeProcess: {
      images: small.length,
      batch: 8,
      seconds: whole.seconds,
      imagesPerSecond: round(wholeRate, 2),
      inferenceOnlyImagesPerSecond: round(inferenceRate, 2),
      ratio: round(ratio),
      load: whole.load,
      rounds: wholeRuns,
      inferenceOnlyRuns: inferenceRates.map((r) => round(r, 2)),
    },
    loadAverageAfter: os.loadavg(),
  };
  await mkdir(RESULTS_DIR, { recursive: true });
  const json = `${JSON.stringify(report, null, 2)}\n`;
  await writeFile(path.join(RESULTS_DIR, 'startup-latest.json'), json);
  await writeFile(path.join(RESULTS_DIR, `startup-${report.date.replace(/[:.]/g, '-')}.json`), json);
  console.log(`results written to ${path.relative(process.cwd(), path.join(RESULTS_DIR, 'startup-latest.json'))}`);
}

await main();
