// Cost of explanations per model on the CPU, batch 1: a plain inference (the unmodified graph)
// against one run of the gradient graph giving logits, every stage's activations and the gradients
// of every stage and the input for K classes (K = 1, 2, 4). Blocks of each are interleaved and the
// per-cycle ratios reported with their median, so load from other processes moves both sides alike.
// Targets (issue 10): K = 1 ≤ 3× a plain inference; each extra class ≤ +1×.
// Writes bench-results/explain-latest.json, with the load average before and after.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { Explainer } from '../../src-main/engine/explain/explainer.js';
import { Classifier } from '../../src-main/engine/infer/classifier.js';
import { loadLabels } from '../../src-main/engine/model/labels.js';
import { TORCHVISION_PREPROCESSING, preprocessBytes } from '../../src-main/engine/preprocess/preprocess.js';
import { ensureFixture } from '../fixtures/generate.js';
import { photoLike } from '../helpers/bad-inputs.js';
import { REFERENCE_MODEL, REPO_ROOT } from '../helpers/testdata.js';

const CYCLES = Number(process.env.BENCH_CYCLES ?? 6);
const RUNS_PER_BLOCK = 3;
const CLASS_COUNTS = [1, 2, 4];

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const round2 = (x: number): number => Math.round(x * 100) / 100;

async function blockMs(run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < RUNS_PER_BLOCK; i++) await run();
  return (performance.now() - start) / RUNS_PER_BLOCK;
}

async function main(): Promise<void> {
  const loadBefore = os.loadavg();
  const labels = await loadLabels();
  const input = (await preprocessBytes(await photoLike(800, 600, 'jpeg', 11), TORCHVISION_PREPROCESSING)).tensor;
  const only = process.env.BENCH_MODELS?.split(',');
  const models = [
    { name: 'resnet50', file: existsSync(REFERENCE_MODEL) ? REFERENCE_MODEL : await ensureFixture({ depth: 50, bn: 'folded' }) },
    { name: 'resnet152', file: await ensureFixture({ depth: 152, bn: 'folded' }) },
  ].filter((m) => !only || only.includes(m.name));
  const rows = [];
  for (const model of models) {
    const classifier = await Classifier.load({
      name: model.name,
      modelPath: model.file,
      preprocessing: TORCHVISION_PREPROCESSING,
      labels,
      ep: 'cpu',
      stages: true,
      cacheDir: path.join(REPO_ROOT, '.cache', 'engine'),
    });
    const plain = await Classifier.load({
      name: model.name,
      modelPath: model.file,
      preprocessing: TORCHVISION_PREPROCESSING,
      labels,
      ep: 'cpu',
      stages: false,
    });
    const explainer = await Explainer.load(classifier);
    const variants: Record<string, () => Promise<unknown>> = { plain: () => plain.run(input, 1) };
    for (const k of CLASS_COUNTS) variants[`gradients${k}`] = () => explainer.run(input, 1, { classes: Array.from({ length: k }, (_, i) => i * 7) });
    for (const run of Object.values(variants)) await run(); // warm-up
    const samples: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
    for (let cycle = 0; cycle < CYCLES; cycle++) for (const [name, run] of Object.entries(variants)) samples[name].push(await blockMs(run));
    const ratios = (name: string): number[] => samples[name].map((ms, i) => ms / samples.plain[i]);
    const row = {
      model: model.name,
      explainerLoadMs: Math.round(explainer.loadMs),
      plainMs: round2(median(samples.plain)),
      ...Object.fromEntries(CLASS_COUNTS.map((k) => [`gradients${k}Ms`, round2(median(samples[`gradients${k}`]))])),
      ...Object.fromEntries(CLASS_COUNTS.map((k) => [`gradients${k}OverPlain`, round2(median(ratios(`gradients${k}`)))])),
      /** Each class beyond the first, in plain inferences: (t(K=4) − t(K=1)) / 3 / t(plain). */
      extraClassOverPlain: round2(median(samples.gradients4.map((ms, i) => (ms - samples.gradients1[i]) / 3 / samples.plain[i]))),
    };
    rows.push(row);
    console.log(JSON.stringify(row));
    await explainer.dispose();
    await plain.dispose();
    await classifier.dispose();
  }
  const report = {
    when: new Date().toISOString(),
    targets: { gradients1OverPlain: 3, extraClassOverPlain: 1 },
    cycles: CYCLES,
    runsPerBlock: RUNS_PER_BLOCK,
    machine: {
      cpu: os.cpus()[0]?.model,
      cores: os.availableParallelism(),
      node: process.version,
      onnxruntime: ort.env.versions.common,
      loadAverageBefore: loadBefore,
      loadAverageAfter: os.loadavg(),
    },
    rows,
  };
  const dir = path.join(REPO_ROOT, 'bench-results');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'explain-latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  console.log('results written to bench-results/explain-latest.json');
}

await main();
