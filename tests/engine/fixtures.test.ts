// The generated ResNet fixtures are real, runnable ResNets: onnxruntime executes them, logits are
// finite and depend on the image, BN folding is exact, parameter counts match torchvision, and the
// files are reproducible byte for byte.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OnnxModel, decodeModel, toNumber, valueShape } from '../../src-main/engine/model/onnx-proto.js';
import { type FixtureSpec, ensureFixture, modelBytes, writeFixture } from '../fixtures/generate.js';
import { type ResNetDepth, buildResNet, irVersionForOpset, mulberry32 } from '../fixtures/resnet-graph.js';

const SIZE = 224;
const CLASSES = 1000;

/**
 * n normalised-looking images (values around [-2, 2]): per channel a random offset and a random
 * plane wave, plus pixel noise. Pure noise would be a poor probe: global average pooling averages
 * it away, and a random network then gives nearly the same logits for every noise image.
 */
function randomImages(n: number, seed: number): Float32Array {
  const random = mulberry32(seed);
  const data = new Float32Array(n * 3 * SIZE * SIZE);
  for (let plane = 0; plane < n * 3; plane++) {
    const offset = (random() - 0.5) * 1.5;
    const [fx, fy, phase, amplitude] = [random() * 0.1, random() * 0.1, random() * 6, random()];
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        data[(plane * SIZE + y) * SIZE + x] = offset + amplitude * Math.sin(fx * x + fy * y + phase) + 0.3 * (random() * 2 - 1);
      }
    }
  }
  return data;
}

async function logitsOf(model: string | Uint8Array, images: Float32Array, n: number): Promise<{ dims: readonly number[]; data: Float32Array }> {
  // Two calls so each matches one of create()'s overloads (path, or bytes).
  const session =
    typeof model === 'string'
      ? await ort.InferenceSession.create(model, { executionProviders: ['cpu'] })
      : await ort.InferenceSession.create(model, { executionProviders: ['cpu'] });
  try {
    const result = await session.run({ input: new ort.Tensor('float32', images, [n, 3, SIZE, SIZE]) });
    const logits = result.logits;
    return { dims: logits.dims, data: logits.data as Float32Array };
  } finally {
    await session.release();
  }
}

const row = (data: Float32Array, i: number): Float32Array => data.subarray(i * CLASSES, (i + 1) * CLASSES);
const std = (v: Float32Array): number => {
  const mean = v.reduce((s, x) => s + x, 0) / v.length;
  return Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / v.length);
};
const argmax = (v: Float32Array): number => v.reduce((best, x, i) => (x > v[best] ? i : best), 0);
const maxAbs = (v: Float32Array): number => v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
const maxAbsDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
/** ‖a − b‖ / ‖a‖. */
const relativeDistance = (a: Float32Array, b: Float32Array): number =>
  Math.sqrt(a.reduce((s, x, i) => s + (x - b[i]) ** 2, 0) / a.reduce((s, x) => s + x * x, 0));

/** Logits of a batch are finite, spread over the classes and different for different images. */
function expectImageDependentLogits(logits: { dims: readonly number[]; data: Float32Array }, n: number): void {
  expect(logits.dims).toEqual([n, CLASSES]);
  expect(logits.data.every(Number.isFinite)).toBe(true);
  for (let i = 0; i < n; i++) expect(std(row(logits.data, i))).toBeGreaterThan(0.5);
  const [a, b] = [row(logits.data, 0), row(logits.data, 1)];
  // Top-1 alone is no proof either way: a random network favours a few classes for most images
  // (ResNet-50 v1 picks class 782 for both of these). Measured ‖a−b‖/‖a‖ for these two images:
  // 0.42 to 0.62 depending on the model (per-image logit std 2.6 to 3.4).
  expect(argmax(a) !== argmax(b) || relativeDistance(a, b) > 0.1).toBe(true);
  expect(relativeDistance(a, b)).toBeGreaterThan(0.1);
}

/**
 * Explicit vs folded BatchNorm: the fold is computed in float64 from the stored float32 values, so
 * the two graphs differ by float32 rounding only. Measured max|Δ| / max|logit| on this machine
 * (2-core x86, onnxruntime 1.29): 2.3e-7 to 4.0e-7 for ResNet-18/50/152 v1 and ResNet-18/50 v2,
 * with max|logit| ≈ 10-15 (opset variants: Δ = 0). The bound leaves ~50× room for other CPUs'
 * summation orders and still fails a fold whose epsilon is off by 1e-5 (measured 3.9e-5 on ResNet-50).
 */
const FOLD_TOLERANCE = 2e-5;

/** Parameter count the way torchvision's parameters() sees it: every float initializer except BN running statistics. */
function countParameters(model: OnnxModel): number {
  const runningStats = new Set<string>();
  for (const node of model.graph.node) {
    if (node.opType === 'BatchNormalization') [node.input[3], node.input[4]].forEach((name) => runningStats.add(name));
  }
  return model.graph.initializer.filter((t) => !runningStats.has(t.name)).reduce((sum, t) => sum + t.dims.map(toNumber).reduce((p, d) => p * d, 1), 0);
}

const sha256 = async (file: string): Promise<string> =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex');

const batch = randomImages(2, 20240611);

describe.each([18, 50, 152] as const)('ResNet-%d v1 fixture', (depth) => {
  let explicit: { dims: readonly number[]; data: Float32Array };
  beforeAll(async () => {
    explicit = await logitsOf(await ensureFixture({ depth, bn: 'explicit' }), batch, 2);
  });

  it('runs a batch of two images to finite, image-dependent logits', () => {
    expectImageDependentLogits(explicit, 2);
  });

  it('computes the same function with BatchNorm folded into the convolutions', async () => {
    const folded = await logitsOf(await ensureFixture({ depth, bn: 'folded' }), batch, 2);
    expect(folded.dims).toEqual([2, CLASSES]);
    expect(maxAbsDiff(explicit.data, folded.data)).toBeLessThan(FOLD_TOLERANCE * maxAbs(explicit.data));
  });
});

describe('graph structure', () => {
  it.each([
    [18, 11_689_512],
    [34, 21_797_672],
    [50, 25_557_032],
    [101, 44_549_160],
    [152, 60_192_808],
  ] as const)('ResNet-%d has torchvision’s parameter count', (depth, expected) => {
    const built = buildResNet({ depth: depth as ResNetDepth, bn: 'explicit' });
    expect(countParameters(built.model)).toBe(expected);
    expect(built.parameterCount).toBe(expected);
  });

  it('names nodes and tensors as torch’s exporter does, with a dynamic batch axis', async () => {
    const model = decodeModel(await readFile(await ensureFixture({ depth: 50 })));
    const built = buildResNet({ depth: 18 });
    expect(built.stemOutput).toBe('/maxpool/MaxPool_output_0');
    expect(built.stageOutputs[0]).toBe('/layer1/layer1.1/relu_1/Relu_output_0');

    const names = new Set(model.graph.node.map((n) => n.name));
    for (const name of [
      '/conv1/Conv',
      '/bn1/BatchNormalization',
      '/maxpool/MaxPool',
      '/layer1/layer1.0/conv1/Conv',
      '/layer1/layer1.0/downsample/downsample.0/Conv',
      '/layer4/layer4.2/Add',
      '/avgpool/GlobalAveragePool',
      '/Flatten',
      '/fc/Gemm',
    ]) {
      expect(names).toContain(name);
    }
    const outputs = new Set(model.graph.node.flatMap((n) => n.output));
    for (const name of [
      '/maxpool/MaxPool_output_0',
      '/layer1/layer1.2/relu_2/Relu_output_0',
      '/layer2/layer2.3/relu_2/Relu_output_0',
      '/layer3/layer3.5/relu_2/Relu_output_0',
      '/layer4/layer4.2/relu_2/Relu_output_0',
      'logits',
    ]) {
      expect(outputs).toContain(name);
    }
    expect(toNumber(model.irVersion)).toBe(7);
    expect(model.opsetImport.map((o) => toNumber(o.version))).toEqual([13]);
    expect(valueShape(model.graph.input[0])).toEqual(['N', 3, 224, 224]);
    expect(valueShape(model.graph.output[0])).toEqual(['N', 1000]);
    expect(model.graph.initializer.every((t) => t.rawData && t.rawData.byteLength > 0)).toBe(true);
  });

  it('builds v2 as a pre-activation network: stages end in Add, BN + Relu before the pool', () => {
    const built = buildResNet({ depth: 50, variant: 'v2' });
    const producer = new Map(built.model.graph.node.map((n) => [n.output[0], n]));
    for (const stage of built.stageOutputs) expect(producer.get(stage)?.opType).toBe('Add');
    const pool = built.model.graph.node.find((n) => n.opType === 'GlobalAveragePool');
    const relu = producer.get(pool!.input[0]);
    expect(relu?.opType).toBe('Relu');
    expect(producer.get(relu!.input[0])?.opType).toBe('BatchNormalization');
  });
});

describe('v2 (pre-activation) fixtures', () => {
  it('ResNet-50 v2 runs to finite, image-dependent logits', async () => {
    expectImageDependentLogits(await logitsOf(await ensureFixture({ depth: 50, variant: 'v2' }), batch, 2), 2);
  });

  it('ResNet-18 v2 computes the same function with BatchNorm folded (Mul+Add for pre-activation BNs)', async () => {
    const explicit = await logitsOf(modelBytes(buildResNet({ depth: 18, variant: 'v2' }).model), batch, 2);
    const foldedModel = buildResNet({ depth: 18, variant: 'v2', bn: 'folded' }).model;
    expect(foldedModel.graph.node.some((n) => n.opType === 'BatchNormalization')).toBe(false);
    const folded = await logitsOf(modelBytes(foldedModel), batch, 2);
    expect(maxAbsDiff(explicit.data, folded.data)).toBeLessThan(FOLD_TOLERANCE * maxAbs(explicit.data));
  });
});

describe('reproducibility and variants', () => {
  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(path.join(os.tmpdir(), 'reslens-fixtures-'));
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('regenerates byte-identical files from the same seed, different ones from another', async () => {
    const spec: FixtureSpec = { depth: 18 };
    const cached = await ensureFixture(spec);
    const again = await writeFixture(spec, path.join(scratch, 'again.onnx'));
    expect(await sha256(again.path)).toBe(await sha256(cached));
    const other = await writeFixture({ ...spec, seed: 2 }, path.join(scratch, 'other.onnx'));
    expect(await sha256(other.path)).not.toBe(await sha256(cached));
  });

  it('renames every node and intermediate tensor opaquely without changing the function', async () => {
    const renamed = buildResNet({ depth: 18, renameNodes: true });
    const graph = renamed.model.graph;
    expect(graph.node.every((n) => /^n\d+$/.test(n.name ?? ''))).toBe(true);
    const tensors = [...graph.node.flatMap((n) => [...n.input, ...n.output]), ...graph.initializer.map((t) => t.name)];
    expect(tensors.filter((name) => name !== 'input' && name !== 'logits').every((name) => /^t\d+$/.test(name))).toBe(true);
    expect(renamed.stageOutputs.every((name) => /^t\d+$/.test(name))).toBe(true);

    const named = await logitsOf(await ensureFixture({ depth: 18 }), batch, 2);
    const opaque = await logitsOf(modelBytes(renamed.model), batch, 2);
    expect(opaque.data).toEqual(named.data);
  });

  it.each([7, 9, 11, 17, 21])('runs at opset %d with the same logits as opset 13', async (opset) => {
    const built = buildResNet({ depth: 18, opset });
    expect(toNumber(built.model.irVersion)).toBe(irVersionForOpset(opset));
    const image = batch.subarray(0, 3 * SIZE * SIZE);
    const reference = await logitsOf(await ensureFixture({ depth: 18 }), image, 1);
    const logits = await logitsOf(modelBytes(built.model), image, 1);
    expect(maxAbsDiff(reference.data, logits.data)).toBeLessThan(FOLD_TOLERANCE * maxAbs(reference.data));
  });
});
