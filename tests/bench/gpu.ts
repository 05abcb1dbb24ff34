// `npx tsx tests/bench/gpu.ts`: inference throughput of ResNet-50 and ResNet-152 (generated
// fixtures) at batch 1, 8, 32 and 64 on every execution provider that loads here, the CPU always
// included. Writes bench-results/gpu-latest.json (plus a timestamped copy) with the device names,
// each GPU provider's probe result (max difference from the CPU) and, where no GPU provider
// loaded, a note saying so. docs/gpu.md says how to run it on a CUDA machine.
//
// A WebGPU provider on a software adapter (Mesa lavapipe: no GPU device node) is measured at
// batch 1 on ResNet-50 only: it takes seconds per image, and its use is correctness in CI.
//
// Environment: BENCH_BATCHES=1,8,32,64  BENCH_MODELS=resnet50,resnet152  BENCH_EPS=cuda,webgpu,cpu
//              BENCH_MIN_SECONDS=2 (timed runs per measurement continue until this much time has passed)
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { Classifier } from '../../src-main/engine/infer/classifier.js';
import { backendDetail } from '../../src-main/engine/infer/doctor.js';
import { type GpuInfo, cpuInfo, gpuDeviceNodes, listGpus, vulkanInfo } from '../../src-main/engine/infer/hardware.js';
import { platformProviders } from '../../src-main/engine/infer/providers.js';
import { type Ep } from '../../src-main/engine/core/vocabulary.js';
import type { ProbeResult } from '../../src-main/engine/infer/probe.js';
import { loadLabels } from '../../src-main/engine/model/labels.js';
import { TORCHVISION_PREPROCESSING, preprocessBytes } from '../../src-main/engine/preprocess/preprocess.js';
import { ensureFixture } from '../fixtures/generate.js';
import { photoLike } from '../helpers/bad-inputs.js';
import { REPO_ROOT } from '../helpers/testdata.js';

const RESULTS_DIR = path.join(REPO_ROOT, 'bench-results');
const list = (value: string | undefined, fallback: string): string[] =>
  (value ?? fallback)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const BATCHES = list(process.env.BENCH_BATCHES, '1,8,32,64').map(Number);
const MODELS = list(process.env.BENCH_MODELS, 'resnet50,resnet152');
const MIN_SECONDS = Number(process.env.BENCH_MIN_SECONDS ?? 2);
const DEPTH: Record<string, 50 | 152> = { resnet50: 50, resnet152: 152 };

interface ProviderRecord {
  ep: Ep;
  loaded: boolean;
  device?: string;
  software?: boolean;
  reason?: string;
  /** Load-time probe per model: difference from the CPU and timings. */
  probes: Record<string, ProbeResult | undefined>;
}

interface Row {
  model: string;
  ep: Ep;
  device: string;
  batch: number;
  imagesPerSecond: number;
  msPerImage: number;
  timedRuns: number;
  /** First run at this batch size (shader compilation, kernel selection, arena growth), ms. */
  warmupMs: number;
}

const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits;

async function measure(classifier: Classifier, sample: Float32Array, batch: number): Promise<{ imagesPerSecond: number; timedRuns: number; warmupMs: number }> {
  const packed = new Float32Array(sample.length * batch);
  for (let i = 0; i < batch; i++) packed.set(sample, i * sample.length);
  const warmStart = performance.now();
  await classifier.run(packed, batch);
  const warmupMs = performance.now() - warmStart;
  let runs = 0;
  const start = performance.now();
  do {
    await classifier.run(packed, batch);
    runs++;
  } while ((performance.now() - start) / 1000 < MIN_SECONDS && runs < 200);
  return { imagesPerSecond: (runs * batch) / ((performance.now() - start) / 1000), timedRuns: runs, warmupMs };
}

async function main(): Promise<void> {
  const labels = await loadLabels();
  const sample = (await preprocessBytes(await photoLike(1600, 1200, 'jpeg', 7), TORCHVISION_PREPROCESSING)).tensor;
  const [gpus, vulkan] = await Promise.all([listGpus(), process.platform === 'linux' ? vulkanInfo() : Promise.resolve(undefined)]);
  const deviceNodes = gpuDeviceNodes();
  const cpu = cpuInfo();
  const cpuDevice = `${cpu.model} · ${os.availableParallelism()} threads`;
  // GPU providers first (each is probed against the CPU at load), the CPU last.
  const eps = list(process.env.BENCH_EPS, [...platformProviders().filter((e) => e !== 'cpu'), 'cpu'].join(',')) as Ep[];
  const models = await Promise.all(MODELS.map(async (name) => ({ name, file: await ensureFixture({ depth: DEPTH[name], bn: 'folded' }) })));

  const providers: ProviderRecord[] = [];
  const rows: Row[] = [];
  for (const ep of eps) {
    const record: ProviderRecord = { ep, loaded: false, probes: {} };
    providers.push(record);
    for (const model of models) {
      let classifier: Classifier;
      try {
        classifier = await Classifier.load({ name: model.name, modelPath: model.file, preprocessing: TORCHVISION_PREPROCESSING, labels, ep, stages: false });
      } catch (error) {
        record.reason = (error as Error).message;
        console.log(`${ep.padEnd(7)} not measured: ${record.reason}`);
        break;
      }
      record.loaded = true;
      record.probes[model.name] = classifier.epAttempts.at(-1)?.probe;
      record.software = ep === 'webgpu' && process.platform === 'linux' && deviceNodes.length === 0;
      record.device = ep === 'cpu' ? cpuDevice : (backendDetail(ep, gpus, vulkan, deviceNodes) ?? 'unknown device');
      const probe = record.probes[model.name];
      if (probe)
        console.log(
          `${ep.padEnd(7)} ${model.name}: probe max diff ${probe.maxRelDiff.toExponential(2)} relative to the CPU (allowed ${probe.tolerance}), top-5 ${probe.top5Equal ? 'equal' : 'differs'}`,
        );
      const batches = record.software ? (model.name === 'resnet50' ? [1] : []) : BATCHES;
      for (const batch of batches) {
        const m = await measure(classifier, sample, batch);
        const row: Row = {
          model: model.name,
          ep,
          device: record.device,
          batch,
          imagesPerSecond: round(m.imagesPerSecond),
          msPerImage: round(1000 / m.imagesPerSecond),
          timedRuns: m.timedRuns,
          warmupMs: round(m.warmupMs, 0),
        };
        rows.push(row);
        console.log(
          `${ep.padEnd(7)} ${model.name.padEnd(10)} batch ${String(batch).padStart(2)}  ${row.imagesPerSecond.toFixed(1).padStart(7)} img/s  ${row.msPerImage.toFixed(1).padStart(8)} ms/img  (${m.timedRuns} timed runs; first run ${row.warmupMs} ms)  ${row.device}`,
        );
      }
      await classifier.dispose();
    }
  }

  const gpuMeasured = providers.filter((p) => p.ep !== 'cpu' && p.loaded && !p.software);
  const note =
    gpuMeasured.length > 0
      ? `GPU measured: ${gpuMeasured.map((p) => `${p.ep} on ${p.device}`).join('; ')}`
      : `no GPU provider loaded: CPU numbers only (${providers
          .filter((p) => p.ep !== 'cpu')
          .map((p) => `${p.ep}: ${p.loaded ? `loaded on a software adapter (${p.device}), measured at batch 1 only` : (p.reason ?? 'not tried')}`)
          .join('; ')})`;
  console.log(note);
  const report = {
    kind: 'gpu-throughput',
    date: new Date().toISOString(),
    note,
    machine: {
      cpu: cpu.model,
      cores: cpu.logicalCores,
      memoryGiB: round(os.totalmem() / 2 ** 30),
      /** 1/5/15-minute load averages when the run ended: other work on a shared machine shows up here. */
      loadAverage: os.loadavg().map((n) => round(n)),
      gpus: gpus.map((g: GpuInfo) => g.name),
      deviceNodes,
      platform: `${process.platform}-${process.arch}`,
      node: process.version,
      onnxruntime: ort.env.versions.common,
    },
    models: 'generated fixtures (torchvision topology, BN folded, random weights): same shapes and cost as the real models',
    input: 'one preprocessed 1600×1200 photo-like JPEG repeated to fill the batch; inference alone (no decoding)',
    minSecondsPerMeasurement: MIN_SECONDS,
    providers,
    rows,
  };
  await mkdir(RESULTS_DIR, { recursive: true });
  const json = `${JSON.stringify(report, null, 2)}\n`;
  await writeFile(path.join(RESULTS_DIR, 'gpu-latest.json'), json);
  await writeFile(path.join(RESULTS_DIR, `gpu-${report.date.replace(/[:.]/g, '-')}.json`), json);
  console.log(`results written to ${path.relative(process.cwd(), path.join(RESULTS_DIR, 'gpu-latest.json'))}`);
}

await main();
