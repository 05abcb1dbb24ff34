// `npm run bench:int8`: int8 (reslens quantize's QDQ copy) against fp32 on this CPU. Prints which
// 8-bit instruction sets the CPU has (onnxruntime's int8 kernels use AVX-512 VNNI / AVX-VNNI where
// present, AVX2 otherwise), then, for ResNet-50 (the shared reference model) and ResNet-152 (the
// generated fixture): inference alone at batch 8, fp32 and int8 runs interleaved in the same
// process (so load from other work hits both alike), and a whole `reslens batch` over 200 small
// JPEGs with and without --precision int8. Agreement with fp32 is measured on the reference
// model's 10 shared photos, which are not among the calibration photos. Writes
// bench-results/int8-latest.json and a timestamped copy; the load average is recorded throughout.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { sha256File } from '../../src-main/engine/model/download.js';
import { TORCHVISION_PREPROCESSING, preprocessFile } from '../../src-main/engine/preprocess/preprocess.js';
import { findInt8Copy } from '../../src-main/engine/quantize/int8-store.js';
import { compareLogits, quantizeModel } from '../../src-main/engine/quantize/quantize-model.js';
import { ensureFixture } from '../fixtures/generate.js';
import { REFERENCE_MODEL, REPO_ROOT, TESTDATA } from '../helpers/testdata.js';
import { benchPhotoSets } from './batch-photos.js';

const RESULTS_DIR = path.join(REPO_ROOT, 'bench-results');
const STORE = path.join(REPO_ROOT, '.cache', 'bench-int8-store');
const BIN = path.join(REPO_ROOT, 'bin', 'reslens.js');
const CALIBRATION_PHOTOS = 40;
const ROUNDS = Number(process.env.BENCH_INT8_ROUNDS ?? 3);
const TARGETS = { inferenceVnni: 2.0, inferenceAvx2: 1.4, batchVnni: 1.6 };

const load = (): number => Math.round(os.loadavg()[0] * 100) / 100;
const round = (n: number, places = 2): number => Math.round(n * 10 ** places) / 10 ** places;

function instructionSets(): string[] {
  try {
    const flags = new Set(
      readFileSync('/proc/cpuinfo', 'utf8')
        .match(/^flags\s*:(.*)$/m)?.[1]
        .trim()
        .split(/\s+/) ?? [],
    );
    return ['sse4_1', 'avx2', 'fma', 'avx512f', 'avx512bw', 'avx512_vnni', 'avx_vnni', 'avx512_bf16', 'amx_int8'].filter((f) => flags.has(f));
  } catch {
    return [];
  }
}

async function session(model: string): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: os.availableParallelism(),
    logSeverityLevel: 3,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
}

/** ms per image at batch 8 over `runs` runs (after one warm-up run made at open). */
async function msPerImage(s: ort.InferenceSession, feeds: ort.InferenceSession.FeedsType, runs: number): Promise<number> {
  const start = performance.now();
  for (let r = 0; r < runs; r++) await s.run(feeds);
  return (performance.now() - start) / (runs * 8);
}

async function ensureInt8(model: string, name: string, calibration: string[]): Promise<string> {
  const { sha256 } = await sha256File(model);
  const existing = await findInt8Copy(STORE, sha256);
  if (existing) return existing.model;
  process.stdout.write(`quantising ${name} on ${calibration.length} photos …\n`);
  return (await quantizeModel({ modelPath: model, modelName: name, storeDir: STORE, preprocessing: TORCHVISION_PREPROCESSING, images: calibration })).path;
}

function timedBatch(model: string, dir: string, precision: 'fp32' | 'int8'): { seconds: number; load: number } {
  const out = path.join(os.tmpdir(), `reslens-int8-bench-${process.pid}-${precision}.csv`);
  const before = load();
  const start = performance.now();
  const run = spawnSync(
    process.execPath,
    [BIN, '--models-dir', STORE, 'batch', dir, '--model', model, '--ep', 'cpu', '--precision', precision, '--out', out, '--restart'],
    { encoding: 'utf8' },
  );
  const seconds = (performance.now() - start) / 1000;
  for (const f of [out, `${out}.reslens-journal.jsonl`, `${out}.reslens-journal.jsonl.old`]) void rm(f, { force: true });
  if (run.status !== 0) throw new Error(`batch --precision ${precision} failed: ${run.stderr.slice(-1500)}`);
  return { seconds: round(seconds), load: Math.max(before, load()) };
}

async function main(): Promise<void> {
  const isa = instructionSets();
  const vnni = isa.includes('avx512_vnni') || isa.includes('avx_vnni');
  console.log(
    `int8 bench · ${os.cpus()[0]?.model} · ${os.availableParallelism()} cores · instruction sets: ${isa.join(' ')} · VNNI ${vnni ? 'yes' : 'no'} · load ${os
      .loadavg()
      .map((n) => n.toFixed(2))
      .join(' ')}`,
  );
  const { small, smallDir } = await benchPhotoSets({ small: 200, large: 0 });
  const calibration = small.slice(0, CALIBRATION_PHOTOS);
  const models = [
    existsSync(REFERENCE_MODEL)
      ? { name: 'resnet50', file: REFERENCE_MODEL, weights: 'shared/testdata reference' }
      : { name: 'resnet50', file: await ensureFixture({ depth: 50, bn: 'folded' }), weights: 'generated fixture' },
    { name: 'resnet152', file: await ensureFixture({ depth: 152, bn: 'folded' }), weights: 'generated fixture' },
  ];
  const sample = (await preprocessFile(small[0], TORCHVISION_PREPROCESSING)).tensor;
  const packed = new Float32Array(sample.length * 8);
  for (let i = 0; i < 8; i++) packed.set(sample, i * sample.length);

  const rows = [];
  for (const model of models) {
    const int8File = await ensureInt8(model.file, model.name, calibration);
    const [fp32, int8] = [await session(model.file), await session(int8File)];
    const feeds = { [fp32.inputNames[0]]: new ort.Tensor('float32', packed, [8, 3, 224, 224]) };
    await fp32.run(feeds);
    await int8.run(feeds);
    const rounds = [];
    for (let r = 0; r < ROUNDS; r++) {
      const before = load();
      const f = await msPerImage(fp32, feeds, 2);
      const q = await msPerImage(int8, feeds, 2);
      rounds.push({ fp32MsPerImage: round(f), int8MsPerImage: round(q), ratio: round(f / q), load: Math.max(before, load()) });
    }
    await fp32.release();
    await int8.release();
    const ratios = rounds.map((r) => r.ratio).sort((a, b) => a - b);
    const row = { model: model.name, weights: model.weights, batch: 8, rounds, medianRatio: ratios[Math.floor(ratios.length / 2)] };
    rows.push(row);
    console.log(
      `${model.name.padEnd(10)} inference batch 8: ${rounds.map((r) => `fp32 ${r.fp32MsPerImage} / int8 ${r.int8MsPerImage} ms/img = ${r.ratio}× (load ${r.load})`).join('; ')} → median ${row.medianRatio}× (target ≥ ${vnni ? TARGETS.inferenceVnni : TARGETS.inferenceAvx2})`,
    );
  }

  // Whole batches, ResNet-50, interleaved fp32 / int8.
  const resnet50 = models[0].file;
  const batches = [];
  for (let r = 0; r < 2; r++) {
    const f = timedBatch(resnet50, smallDir, 'fp32');
    const q = timedBatch(resnet50, smallDir, 'int8');
    batches.push({
      fp32Seconds: f.seconds,
      int8Seconds: q.seconds,
      fp32ImagesPerSecond: round(small.length / f.seconds),
      int8ImagesPerSecond: round(small.length / q.seconds),
      ratio: round(f.seconds / q.seconds),
      load: Math.max(f.load, q.load),
    });
  }
  console.log(
    `batch of ${small.length} small JPEGs (whole reslens batch process): ${batches.map((b) => `fp32 ${b.fp32ImagesPerSecond} / int8 ${b.int8ImagesPerSecond} img/s = ${b.ratio}× (load ${b.load})`).join('; ')} (target ≥ ${TARGETS.batchVnni} on VNNI)`,
  );

  // Agreement on the reference model's 10 shared photos (not used for calibration).
  let agreement;
  const refDir = path.join(TESTDATA, 'images');
  if (existsSync(REFERENCE_MODEL) && existsSync(refDir)) {
    const photos = readdirSync(refDir)
      .filter((f) => !f.endsWith('.md'))
      .map((f) => path.join(refDir, f));
    const inputs = await Promise.all(photos.map(async (p) => (await preprocessFile(p, TORCHVISION_PREPROCESSING)).tensor));
    const logits = async (file: string) => {
      const s = await session(file);
      const out = [];
      for (const x of inputs)
        out.push(
          Float32Array.from((await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', x, [1, 3, 224, 224]) }))[s.outputNames[0]].data as Float32Array),
        );
      await s.release();
      return out;
    };
    const int8File = await ensureInt8(REFERENCE_MODEL, 'resnet50', calibration);
    agreement = {
      photos: photos.length,
      calibratedOn: `${CALIBRATION_PHOTOS} generated photo-like JPEGs (percentile, uint8)`,
      ...compareLogits(await logits(REFERENCE_MODEL), await logits(int8File)),
    };
    console.log(
      `agreement on the reference model's ${photos.length} photos: top-1 ${round(agreement.top1Agreement * 100, 1)}%, mean top-5 overlap ${round(agreement.top5Overlap * 100, 1)}%, mean KL ${agreement.meanKl.toFixed(4)} nats`,
    );
  }

  const report = {
    kind: 'int8-cpu',
    date: new Date().toISOString(),
    machine: {
      cpu: os.cpus()[0]?.model,
      cores: os.availableParallelism(),
      instructionSets: isa,
      vnni,
      node: process.version,
      onnxruntime: ort.env.versions.common,
    },
    targets: TARGETS,
    inference: rows,
    batch: { images: small.length, model: 'resnet50', runs: batches },
    agreement,
    loadAverageAfter: os.loadavg(),
  };
  await mkdir(RESULTS_DIR, { recursive: true });
  const json = `${JSON.stringify(report, null, 2)}\n`;
  await writeFile(path.join(RESULTS_DIR, 'int8-latest.json'), json);
  await writeFile(path.join(RESULTS_DIR, `int8-${report.date.replace(/[:.]/g, '-')}.json`), json);
  console.log(`results written to ${path.relative(process.cwd(), path.join(RESULTS_DIR, 'int8-latest.json'))}`);
}

await main();
