// Batch benchmark (`npx tsx tests/bench/batch.ts`; `npm run bench` runs it after tests/bench/run.ts):
// end-to-end `reslens batch` throughput for ResNet-50 on the CPU over two generated photo folders
// (≥ 200 small ~0.5 MP JPEGs, ≥ 80 large 12–20 MP JPEGs), in the default mode (JPEG shrink-on-load)
// and in --exact mode, next to inference alone on the same model and batch size; then peak RSS over
// a run of ≥ 5,000 images (the small set seen through hard links, a tiny model so it stays quick).
// Prints a table and writes bench-results/batch-latest.json (plus a timestamped copy).
//
// When a Python with PyTorch and torchvision is installed (Debian: apt install python3-torch
// python3-torchvision, PyTorch 1.13 as in the issue), PyTorch's standard pipeline runs on the same
// folders (tests/bench/pytorch-baseline.py) and the comparison is made on this machine.
//
// Environment: BENCH_PYTHON (Python for the baseline), BENCH_PYTORCH=0 (skip it), BENCH_SMALL, BENCH_LARGE (photo counts), BENCH_RSS_IMAGES (default 5000; 0 skips),
// BENCH_BATCH (batch size; default the CPU default), BENCH_MODES (e.g. "fast" or "fast,exact"),
// BENCH_FOLDERS ("small,large").
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { link, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { type BatchMode } from '../../src-main/engine/batch/pipeline.js';
import { startBatch } from '../../src-main/engine/batch/run.js';
import { Classifier } from '../../src-main/engine/infer/classifier.js';
import { loadLabels } from '../../src-main/engine/model/labels.js';
import { TORCHVISION_PREPROCESSING, preprocessFile } from '../../src-main/engine/preprocess/preprocess.js';
import { ensureFixture } from '../fixtures/generate.js';
import { REFERENCE_MODEL, REPO_ROOT } from '../helpers/testdata.js';
import { tinyClassifier } from '../helpers/tiny-models.js';
import { BATCH_PHOTO_DIR, benchPhotoSets } from './batch-photos.js';

const RESULTS_DIR = path.join(REPO_ROOT, 'bench-results');
/** PyTorch 1.13 (torchvision transforms + model, DataLoader) end to end on the reference machine kind. */
const PYTORCH = { small: 29.6, large: 7.4 };
/** onnxruntime-node inference alone on that same machine kind (supplied with the PyTorch numbers). */
const REFERENCE_MACHINE_ORT_INFERENCE = 56;
const TARGET_RATIO = { small: 1.4, large: 3 };

interface Row {
  folder: 'small' | 'large';
  images: number;
  megapixels: string;
  mode: BatchMode;
  batch: number;
  endToEndImagesPerSecond: number;
  inferenceOnlyImagesPerSecond: number;
  /** End to end over inference alone: 1.0 means decoding is fully hidden behind inference. */
  ofInferenceOnly: number;
  /** CPU milliseconds per image spent decoding + resizing (one image at a time, median). */
  preprocessCpuMsPerImage: number;
  /** Process CPU time (all threads) per image over the whole end-to-end run. */
  endToEndCpuMsPerImage: number;
  /** Share of the run the model was running (1.0: inference is the bottleneck, never waiting for images). */
  inferenceBusy: number;
  /** Share of the run inference waited for decoded images. */
  inferenceStarved: number;
  /** Wall-clock rate of each repetition; the row reports the best (least disturbed by other work). */
  repetitions: number[];
  loadAverage1m: number;
  pytorchImagesPerSecond: number;
  vsPytorch: number;
  /**
   * The same comparison with each machine's speed taken out: (our end to end / our inference alone)
   * over (PyTorch end to end / onnxruntime inference alone on the reference machine). Meaningful when
   * this machine is not the reference kind (absolute img/s then compare different hardware).
   */
  vsPytorchNormalised: number;
  /** PyTorch's standard pipeline measured on this machine and folder (when PyTorch is installed). */
  pytorchHereImagesPerSecond?: number;
  vsPytorchHere?: number;
  /** vsPytorchHere against the issue's ratio (the comparison on one machine). */
  meetsTargetHere?: boolean;
  target: string;
  failed: number;
}

const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits;

async function inferenceOnly(classifier: Classifier, batch: number, seconds = 4): Promise<number> {
  const sample = (await preprocessFile((await benchPhotoSets({ small: 1, large: 0 })).small[0], TORCHVISION_PREPROCESSING)).tensor;
  const packed = new Float32Array(sample.length * batch);
  for (let i = 0; i < batch; i++) packed.set(sample, i * sample.length);
  await classifier.run(packed, batch); // warm-up
  let images = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000 || images < 2 * batch) {
    await classifier.run(packed, batch);
    images += batch;
  }
  return images / ((performance.now() - start) / 1000);
}

async function preprocessCpu(files: string[], mode: BatchMode): Promise<number> {
  const samples: number[] = [];
  const shrinkOnLoad = mode === 'fast' ? { minShorter: 4 * TORCHVISION_PREPROCESSING.resizeShorter } : undefined;
  for (const file of files.slice(0, 12)) {
    const before = process.cpuUsage();
    await preprocessFile(file, TORCHVISION_PREPROCESSING, { shrinkOnLoad });
    const used = process.cpuUsage(before);
    samples.push((used.user + used.system) / 1000);
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1];
}

/** The folder itself when all its photos are asked for (the walk is part of the run), else the files. */
async function endToEnd(
  classifier: Classifier,
  folder: string,
  files: string[],
  mode: BatchMode,
  batch: number,
  work: string,
): Promise<{ seconds: number; count: number; failed: number; cpuMsPerImage: number; inferenceBusy: number; starved: number }> {
  const out = path.join(work, `${path.basename(folder)}-${mode}.csv`);
  const inputs = (await readdir(folder)).filter((f) => f.endsWith('.jpg')).length === files.length ? [folder] : files;
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const job = await startBatch({ inputs, classifier, out, mode, batchSize: batch, restart: true });
  const summary = await job.done;
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  if (summary.state !== 'finished') throw new Error(`batch over ${folder} ended ${summary.state}: ${summary.error?.message}`);
  const { inferenceSeconds, starvedSeconds, activeSeconds } = summary.stats;
  return {
    seconds,
    count: summary.count,
    failed: summary.failed,
    cpuMsPerImage: (cpu.user + cpu.system) / 1000 / summary.count,
    inferenceBusy: inferenceSeconds / activeSeconds,
    starved: starvedSeconds / activeSeconds,
  };
}

/** A Python with PyTorch and torchvision (BENCH_PYTHON, else Debian's /usr/bin/python3), or undefined. */
function pytorchPython(): string | undefined {
  const candidates = [process.env.BENCH_PYTHON, '/usr/bin/python3', 'python3'].filter((p): p is string => Boolean(p));
  return candidates.find((python) => spawnSync(python, ['-c', 'import torch, torchvision'], { stdio: 'ignore' }).status === 0);
}

interface PytorchHere {
  imagesPerSecond: number;
  repetitions: number[];
  torch: string;
  torchvision: string;
  threads: number;
  workers: number;
  batch: number;
}

/** PyTorch's standard pipeline on the same folder and machine (tests/bench/pytorch-baseline.py). */
function pytorchOnFolder(python: string, folder: string, batch: number, repeats: number): PytorchHere | undefined {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'pytorch-baseline.py');
  const run = spawnSync(python, [script, folder, '--batch', String(batch), '--workers', '2', '--repeat', String(repeats)], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  if (run.status !== 0) {
    console.log(`PyTorch baseline failed on ${folder}: ${run.stderr.trim().split('\n').at(-1)}`);
    return undefined;
  }
  return JSON.parse(run.stdout.trim().split('\n').at(-1) as string) as PytorchHere;
}

/** ≥ `images` distinct paths over the small set: hard links in numbered folders (no extra disk). */
async function linkedFolder(small: string[], images: number): Promise<string> {
  const folder = path.join(BATCH_PHOTO_DIR, `rss-${images}`);
  const copies = Math.ceil(images / small.length);
  for (let c = 0; c < copies; c++) {
    const dir = path.join(folder, `copy-${String(c).padStart(3, '0')}`);
    await mkdir(dir, { recursive: true });
    const have = new Set(await readdir(dir));
    for (const file of small) if (!have.has(path.basename(file))) await link(file, path.join(dir, path.basename(file)));
  }
  return folder;
}

/** Runs the memory measurement in a fresh process, so nothing the throughput runs allocated counts. */
async function rssInChild(images: number): Promise<Awaited<ReturnType<typeof rssRun>>> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--rss-child', String(images)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) throw new Error(`memory run failed (exit ${code})`);
  return JSON.parse(stdout.trim().split('\n').at(-1) as string) as Awaited<ReturnType<typeof rssRun>>;
}

async function rssRun(small: string[], images: number, work: string) {
  const folder = await linkedFolder(small, images);
  const modelFile = path.join(work, 'tiny-1000.onnx');
  await writeFile(modelFile, tinyClassifier(1000));
  const labels = await loadLabels();
  const classifier = await Classifier.load({ name: 'tiny', modelPath: modelFile, preprocessing: TORCHVISION_PREPROCESSING, labels, ep: 'cpu', stages: false });
  const samples: { done: number; rss: number; heap: number }[] = [];
  let done = 0;
  let total = images;
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    samples.push({ done, rss: m.rss, heap: m.heapUsed });
  }, 100);
  const start = performance.now();
  const job = await startBatch({
    inputs: [folder],
    classifier,
    out: path.join(work, 'rss.jsonl'),
    restart: true,
    onEvent: (e) => {
      if (e.type === 'progress') {
        done = e.progress.done;
        total = e.progress.total;
      }
    },
  });
  const summary = await job.done;
  clearInterval(timer);
  await classifier.dispose();
  const seconds = (performance.now() - start) / 1000;
  // Warm-up: the first 10% of the images (pools filled, JIT warm, caches sized).
  const warm = samples.filter((s) => s.done >= total * 0.1);
  const atWarm = warm[0] ?? samples[0];
  const peak = Math.max(...samples.map((s) => s.rss));
  const late = samples.filter((s) => s.done >= total * 0.9);
  const mb = (b: number) => round(b / 2 ** 20, 1);
  return {
    images: summary.count,
    model: 'tiny (GlobalAveragePool → Gemm, 1000 classes): decoding, resizing, journal and export at full speed',
    imagesPerSecond: round(summary.count / seconds),
    rssAfterWarmupMB: mb(atWarm.rss),
    peakRssMB: mb(peak),
    rssAtEndMB: mb((late.at(-1) ?? samples.at(-1) ?? atWarm).rss),
    growthAfterWarmupMB: mb(peak - atWarm.rss),
    heapAfterWarmupMB: mb(atWarm.heap),
    heapAtEndMB: mb((late.at(-1) ?? atWarm).heap),
    target: 'growth < 100 MB after warm-up',
  };
}

async function main(): Promise<void> {
  const smallCount = Number(process.env.BENCH_SMALL ?? 200);
  const largeCount = Number(process.env.BENCH_LARGE ?? 80);
  const rssImages = Number(process.env.BENCH_RSS_IMAGES ?? 5000);
  const modes = (process.env.BENCH_MODES ?? 'fast,exact').split(',') as BatchMode[];
  // This machine may be shared: each measurement is repeated and the best kept.
  const repeats = Math.max(1, Number(process.env.BENCH_REPEATS ?? 2));
  console.log(`photo sets: ${BATCH_PHOTO_DIR} (generated on first run, a few minutes)`);
  const sets = await benchPhotoSets({ small: smallCount, large: largeCount });
  const labels = await loadLabels();
  const reference = existsSync(REFERENCE_MODEL);
  const modelFile = reference ? REFERENCE_MODEL : await ensureFixture({ depth: 50, bn: 'folded' });
  // As the CLI loads it (stage outputs exposed, logits fetched alone).
  const classifier = await Classifier.load({ name: 'resnet50', modelPath: modelFile, preprocessing: TORCHVISION_PREPROCESSING, labels, ep: 'cpu' });
  const batch = Number(process.env.BENCH_BATCH ?? classifier.defaultBatchSize);
  const loadBefore = os.loadavg();
  let inference = 0;
  for (let r = 0; r < repeats + 1; r++) inference = Math.max(inference, await inferenceOnly(classifier, batch));
  console.log(`inference alone: ResNet-50, batch ${batch}, ${classifier.threads} threads: ${inference.toFixed(1)} img/s (best of ${repeats + 1})`);
  const work = await mkdtemp(path.join(os.tmpdir(), 'reslens-bench-batch-'));
  const rows: Row[] = [];
  try {
    const python = process.env.BENCH_PYTORCH === '0' ? undefined : pytorchPython();
    const pytorchHere: Partial<Record<'small' | 'large', PytorchHere>> = {};
    if (!python) console.log('PyTorch baseline: not measured (no Python with torch + torchvision; Debian: apt install python3-torch python3-torchvision)');
    for (const folder of (process.env.BENCH_FOLDERS ?? 'small,large').split(',') as ('small' | 'large')[]) {
      const files = folder === 'small' ? sets.small : sets.large;
      const dir = folder === 'small' ? sets.smallDir : sets.largeDir;
      const baseline =
        python && files.length === (await readdir(dir)).filter((f) => f.endsWith('.jpg')).length ? pytorchOnFolder(python, dir, batch, repeats) : undefined;
      if (baseline) {
        pytorchHere[folder] = baseline;
        console.log(
          `PyTorch ${baseline.torch} / torchvision ${baseline.torchvision} here, ${folder}: ${baseline.imagesPerSecond.toFixed(1)} img/s (ImageFolder + DataLoader, ${baseline.workers} workers, batch ${baseline.batch}, ${baseline.threads} threads; runs ${baseline.repetitions.map((r) => r.toFixed(2)).join(', ')})`,
        );
      }
      for (const mode of modes) {
        const runs = [];
        for (let r = 0; r < repeats; r++) runs.push(await endToEnd(classifier, dir, files, mode, batch, work));
        const run = runs.reduce((best, x) => (x.seconds < best.seconds ? x : best));
        // Inference alone again, between runs: the best seen is the machine's undisturbed speed.
        inference = Math.max(inference, await inferenceOnly(classifier, batch, 2));
        const rate = run.count / run.seconds;
        const row: Row = {
          folder,
          images: run.count,
          megapixels: folder === 'small' ? '0.5' : '12–20',
          mode,
          batch,
          endToEndImagesPerSecond: round(rate),
          inferenceOnlyImagesPerSecond: round(inference),
          ofInferenceOnly: round(rate / inference),
          preprocessCpuMsPerImage: round(await preprocessCpu(files, mode), 1),
          endToEndCpuMsPerImage: round(run.cpuMsPerImage, 1),
          inferenceBusy: round(run.inferenceBusy),
          inferenceStarved: round(run.starved),
          repetitions: runs.map((x) => round(x.count / x.seconds)),
          loadAverage1m: round(os.loadavg()[0]),
          pytorchImagesPerSecond: PYTORCH[folder],
          vsPytorch: round(rate / PYTORCH[folder]),
          vsPytorchNormalised: 0, // filled in below, once inference alone has its best value
          ...(pytorchHere[folder]
            ? {
                pytorchHereImagesPerSecond: round(pytorchHere[folder].imagesPerSecond),
                vsPytorchHere: round(rate / pytorchHere[folder].imagesPerSecond),
                meetsTargetHere: rate / pytorchHere[folder].imagesPerSecond >= TARGET_RATIO[folder],
              }
            : {}),
          target: `≥ ${TARGET_RATIO[folder]}× PyTorch (issue: ${round(TARGET_RATIO[folder] * PYTORCH[folder], 1)} img/s${pytorchHere[folder] ? `; here: ${round(TARGET_RATIO[folder] * pytorchHere[folder].imagesPerSecond, 1)} img/s` : ''})`,
          failed: run.failed,
        };
        rows.push(row);
        console.log(
          `${folder.padEnd(5)} ${mode.padEnd(5)} ${row.endToEndImagesPerSecond.toFixed(1).padStart(6)} img/s end to end (runs: ${row.repetitions.join(', ')}; preprocess ${row.preprocessCpuMsPerImage} CPU ms/img; whole run ${row.endToEndCpuMsPerImage} CPU ms/img; inference busy ${Math.round(row.inferenceBusy * 100)}%, starved ${Math.round(row.inferenceStarved * 100)}%)`,
        );
      }
    }
    for (const row of rows) {
      row.inferenceOnlyImagesPerSecond = round(inference);
      row.ofInferenceOnly = round(row.endToEndImagesPerSecond / inference);
      row.vsPytorchNormalised = round(row.ofInferenceOnly / (row.pytorchImagesPerSecond / REFERENCE_MACHINE_ORT_INFERENCE));
    }
    const loadAfter = os.loadavg();
    await classifier.dispose();
    const rss = rssImages > 0 ? await rssInChild(rssImages) : undefined;

    const report = {
      kind: 'batch-cpu',
      date: new Date().toISOString(),
      machine: {
        cpu: os.cpus()[0]?.model,
        cores: os.availableParallelism(),
        memoryGiB: round(os.totalmem() / 2 ** 30),
        platform: `${process.platform}-${process.arch}`,
        node: process.version,
        onnxruntime: ort.env.versions.common,
        // Other work on the machine skews throughput: the 1-minute load average around the runs.
        loadAverage1m: { before: round(loadBefore[0]), after: round(loadAfter[0]) },
      },
      model: reference ? 'resnet50 (shared/testdata reference export)' : 'resnet50 (generated fixture, BN folded)',
      inference: { batch, threads: classifier.threads, imagesPerSecond: round(inference) },
      pytorchReference: {
        ...PYTORCH,
        onnxruntimeInferenceAlone: REFERENCE_MACHINE_ORT_INFERENCE,
        note: 'supplied with the issue for the reference machine kind, not measured here; compare vsPytorchNormalised when this machine differs (see its inference alone)',
      },
      pytorchHere,
      rows,
      ...(rss ? { rss } : {}),
    };
    await mkdir(RESULTS_DIR, { recursive: true });
    const json = `${JSON.stringify(report, null, 2)}\n`;
    await writeFile(path.join(RESULTS_DIR, 'batch-latest.json'), json);
    await writeFile(path.join(RESULTS_DIR, `batch-${report.date.replace(/[:.]/g, '-')}.json`), json);

    console.log('');
    console.log(
      `ResNet-50 batch on the CPU — ${report.machine.cpu}, ${report.machine.cores} cores, Node ${process.version}, onnxruntime ${report.machine.onnxruntime}`,
    );
    console.log(
      "| folder | mode | images | end to end img/s | inference alone img/s | e2e / inference | inference busy | preprocess CPU ms/img | run CPU ms/img | PyTorch here img/s | vs PyTorch here | issue's PyTorch img/s | vs issue's | normalised¹ | target |",
    );
    console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
    for (const r of rows) {
      const here = r.pytorchHereImagesPerSecond !== undefined ? `${r.pytorchHereImagesPerSecond.toFixed(1)} | ${r.vsPytorchHere?.toFixed(2)}×` : '— | —';
      console.log(
        `| ${r.folder} (${r.megapixels} MP) | ${r.mode} | ${r.images} | ${r.endToEndImagesPerSecond.toFixed(1)} | ${r.inferenceOnlyImagesPerSecond.toFixed(1)} | ${r.ofInferenceOnly.toFixed(2)} | ${Math.round(r.inferenceBusy * 100)}% | ${r.preprocessCpuMsPerImage} | ${r.endToEndCpuMsPerImage} | ${here} | ${r.pytorchImagesPerSecond} | ${r.vsPytorch.toFixed(2)}× | ${r.vsPytorchNormalised.toFixed(2)}× | ${r.target} |`,
      );
    }
    console.log(
      `¹ (end to end / inference alone here) ÷ (PyTorch end to end / ${REFERENCE_MACHINE_ORT_INFERENCE} img/s onnxruntime inference alone on the reference machine)`,
    );
    if (rss)
      console.log(
        `\nmemory over ${rss.images} images (${rss.imagesPerSecond} img/s, tiny model): RSS ${rss.rssAfterWarmupMB} MB after warm-up, peak ${rss.peakRssMB} MB, growth ${rss.growthAfterWarmupMB} MB (target < 100 MB)`,
      );
    console.log(`results written to ${path.relative(process.cwd(), path.join(RESULTS_DIR, 'batch-latest.json'))}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--rss-child') {
  const images = Number(process.argv[3]);
  const work = await mkdtemp(path.join(os.tmpdir(), 'reslens-bench-rss-'));
  try {
    const sets = await benchPhotoSets();
    process.stdout.write(`${JSON.stringify(await rssRun(sets.small, images, work))}\n`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
} else {
  await main();
}
