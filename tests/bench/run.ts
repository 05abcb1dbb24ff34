// `npm run bench`: CPU throughput of ResNet-50 and ResNet-152 at batch 1 and 8, inference alone and
// end to end from JPEG files. Prints a table and writes bench-results/engine-latest.json (plus a
// timestamped copy). Speed targets live here, not in unit tests.
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { Classifier } from '../../src-main/engine/infer/classifier.js';
import { classifyFiles, isFailure } from '../../src-main/engine/infer/classify-files.js';
import { loadLabels } from '../../src-main/engine/model/labels.js';
import { TORCHVISION_PREPROCESSING, preprocessFile } from '../../src-main/engine/preprocess/preprocess.js';
import { ensureFixture } from '../fixtures/generate.js';
import { photoLike } from '../helpers/bad-inputs.js';
import { REFERENCE_MODEL, REPO_ROOT } from '../helpers/testdata.js';

const RESULTS_DIR = path.join(REPO_ROOT, 'bench-results');
const PHOTO_DIR = path.join(REPO_ROOT, '.cache', 'bench-photos');
const PHOTO_COUNT = Number(process.env.BENCH_PHOTOS ?? 24);
const BATCHES = [1, 8];

interface Row {
  model: string;
  weights: string;
  batch: number;
  inferenceImagesPerSecond: number;
  inferenceMsPerImage: number;
  endToEndImagesPerSecond: number;
  endToEndMsPerImage: number;
}

/** 2 MP photo-like JPEGs (smooth gradients plus noise, q90), made once and cached. */
async function benchPhotos(): Promise<string[]> {
  await mkdir(PHOTO_DIR, { recursive: true });
  for (let i = 0; i < PHOTO_COUNT; i++) {
    const file = path.join(PHOTO_DIR, `photo-${String(i).padStart(3, '0')}.jpg`);
    if (!existsSync(file)) await writeFile(file, await photoLike(1600, 1200, 'jpeg', i + 1));
  }
  return (await readdir(PHOTO_DIR))
    .filter((f) => f.endsWith('.jpg'))
    .sort()
    .slice(0, PHOTO_COUNT)
    .map((f) => path.join(PHOTO_DIR, f));
}

async function measureInference(classifier: Classifier, sample: Float32Array, batch: number): Promise<number> {
  const packed = new Float32Array(sample.length * batch);
  for (let i = 0; i < batch; i++) packed.set(sample, i * sample.length);
  await classifier.run(packed, batch); // warm-up: first run allocates and tunes
  const runs = Math.max(2, Math.ceil(16 / batch));
  const start = performance.now();
  for (let r = 0; r < runs; r++) await classifier.run(packed, batch);
  return (runs * batch) / ((performance.now() - start) / 1000);
}

async function measureEndToEnd(classifier: Classifier, photos: string[], batch: number): Promise<number> {
  const start = performance.now();
  let count = 0;
  for await (const result of classifyFiles(
    classifier,
    photos.map((p) => ({ path: p })),
    { batchSize: batch },
  )) {
    if (isFailure(result)) throw new Error(`${result.path}: ${result.error.message}`);
    count++;
  }
  return count / ((performance.now() - start) / 1000);
}

async function main(): Promise<void> {
  const labels = await loadLabels();
  const photos = await benchPhotos();
  const sample = (await preprocessFile(photos[0], TORCHVISION_PREPROCESSING)).tensor;
  const models = [
    existsSync(REFERENCE_MODEL)
      ? { name: 'resnet50', file: REFERENCE_MODEL, weights: 'shared/testdata reference (torchvision export, calibrated random weights)' }
      : { name: 'resnet50', file: await ensureFixture({ depth: 50, bn: 'folded' }), weights: 'generated fixture (BN folded, random weights)' },
    { name: 'resnet152', file: await ensureFixture({ depth: 152, bn: 'folded' }), weights: 'generated fixture (BN folded, random weights)' },
  ];
  const rows: Row[] = [];
  for (const model of models) {
    const classifier = await Classifier.load({ name: model.name, modelPath: model.file, preprocessing: TORCHVISION_PREPROCESSING, labels, ep: 'cpu' });
    for (const batch of BATCHES) {
      const inference = await measureInference(classifier, sample, batch);
      const endToEnd = await measureEndToEnd(classifier, photos, batch);
      const row = {
        model: model.name,
        weights: model.weights,
        batch,
        inferenceImagesPerSecond: round(inference),
        inferenceMsPerImage: round(1000 / inference),
        endToEndImagesPerSecond: round(endToEnd),
        endToEndMsPerImage: round(1000 / endToEnd),
      };
      rows.push(row);
      console.log(
        `${row.model.padEnd(10)} batch ${String(batch).padStart(2)}  inference ${row.inferenceImagesPerSecond.toFixed(1).padStart(6)} img/s (${row.inferenceMsPerImage.toFixed(1)} ms/img)   end-to-end ${row.endToEndImagesPerSecond.toFixed(1).padStart(6)} img/s (${row.endToEndMsPerImage.toFixed(1)} ms/img)`,
      );
    }
    await classifier.dispose();
  }
  const report = {
    kind: 'engine-cpu',
    date: new Date().toISOString(),
    machine: {
      cpu: os.cpus()[0]?.model,
      cores: os.availableParallelism(),
      memoryGiB: round(os.totalmem() / 2 ** 30),
      platform: `${process.platform}-${process.arch}`,
      node: process.version,
      onnxruntime: ort.env.versions.common,
    },
    endToEndInput: `${photos.length} JPEGs, 1600×1200 (q90), full decode + Pillow-exact resize + crop`,
    rows,
  };
  await mkdir(RESULTS_DIR, { recursive: true });
  const json = `${JSON.stringify(report, null, 2)}\n`;
  await writeFile(path.join(RESULTS_DIR, 'engine-latest.json'), json);
  await writeFile(path.join(RESULTS_DIR, `engine-${report.date.replace(/[:.]/g, '-')}.json`), json);
  console.log(`results written to ${path.relative(process.cwd(), path.join(RESULTS_DIR, 'engine-latest.json'))}`);
}

const round = (n: number): number => Math.round(n * 100) / 100;

await main();
