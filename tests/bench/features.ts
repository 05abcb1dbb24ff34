// Cost of feature maps: logits only (unmodified graph) vs the stage-exposed graph fetching logits
// only vs fetching and reducing every stage (heatmaps, top channels, CAMs), per model, batch 1.
// Writes bench-results/features-latest.json. Target: under 10% extra time per image on CPU.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { reduceFeatures } from '../../src-main/engine/features/extract.js';
import { Classifier } from '../../src-main/engine/infer/classifier.js';
import { loadLabels } from '../../src-main/engine/model/labels.js';
import { TORCHVISION_PREPROCESSING, preprocessBytes } from '../../src-main/engine/preprocess/preprocess.js';
import { ensureFixture } from '../fixtures/generate.js';
import { photoLike } from '../helpers/bad-inputs.js';
import { REFERENCE_MODEL, REPO_ROOT } from '../helpers/testdata.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 12);

async function timePerImage(run: () => Promise<unknown>): Promise<number> {
  await run();
  const start = performance.now();
  for (let i = 0; i < ROUNDS; i++) await run();
  return (performance.now() - start) / ROUNDS;
}

async function main(): Promise<void> {
  const labels = await loadLabels();
  const input = (await preprocessBytes(await photoLike(800, 600, 'jpeg', 11), TORCHVISION_PREPROCESSING)).tensor;
  const models = [
    { name: 'resnet50', file: existsSync(REFERENCE_MODEL) ? REFERENCE_MODEL : await ensureFixture({ depth: 50, bn: 'folded' }) },
    { name: 'resnet152', file: await ensureFixture({ depth: 152, bn: 'folded' }) },
  ];
  const rows = [];
  for (const model of models) {
    const common = { name: model.name, modelPath: model.file, preprocessing: TORCHVISION_PREPROCESSING, labels, ep: 'cpu' as const };
    const plain = await Classifier.load({ ...common, stages: false });
    const exposed = await Classifier.load({ ...common, cacheDir: path.join(REPO_ROOT, '.cache', 'engine') });
    // Interleave the three measurements twice so drift on a shared machine hits them alike.
    const totals = { logits: 0, exposedLogits: 0, features: 0 };
    for (let pass = 0; pass < 2; pass++) {
      totals.logits += await timePerImage(() => plain.run(input, 1));
      totals.exposedLogits += await timePerImage(() => exposed.run(input, 1));
      totals.features += await timePerImage(async () => {
        const run = await exposed.run(input, 1, { features: true });
        return reduceFeatures(exposed, run.features![0], run.logits[0], { topChannels: 8, topClasses: 5 });
      });
    }
    const logits = totals.logits / 2;
    const exposedLogits = totals.exposedLogits / 2;
    const features = totals.features / 2;
    const row = {
      model: model.name,
      logitsMs: round(logits),
      exposedLogitsMs: round(exposedLogits),
      featuresMs: round(features),
      exposedOverheadPercent: round(((exposedLogits - logits) / logits) * 100),
      featuresOverheadPercent: round(((features - logits) / logits) * 100),
    };
    rows.push(row);
    console.log(`${row.model.padEnd(10)} logits ${row.logitsMs.toFixed(1)} ms · exposed graph, logits only ${row.exposedLogitsMs.toFixed(1)} ms (${row.exposedOverheadPercent.toFixed(1)}%) · all stages + reductions ${row.featuresMs.toFixed(1)} ms (${row.featuresOverheadPercent.toFixed(1)}%)`);
    await plain.dispose();
    await exposed.dispose();
  }
  const report = {
    kind: 'features-cpu',
    date: new Date().toISOString(),
    machine: { cpu: os.cpus()[0]?.model, cores: os.availableParallelism(), node: process.version, onnxruntime: ort.env.versions.common },
    method: `batch 1, ${ROUNDS} runs × 2 interleaved passes after a warm-up; reductions = per-stage mean heatmap + statistics + channel ranking + 8 channel maps + CAMs for the top 5 classes`,
    target: 'featuresOverheadPercent < 10',
    rows,
  };
  const dir = path.join(REPO_ROOT, 'bench-results');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'features-latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  console.log('results written to bench-results/features-latest.json');
}

const round = (n: number): number => Math.round(n * 100) / 100;
await main();
