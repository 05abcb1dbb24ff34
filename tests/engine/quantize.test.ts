// The int8 quantiser on the generated fixtures (ResNet-18/50, v1 with BN explicit and folded, and
// v2 pre-activation): onnxruntime loads the QDQ copy, its optimised graph really runs int8 kernels
// (QLinearConv for every convolution, QLinearAdd for the residual adds), and its predictions stay
// close to fp32 on photos. Plus the CLI around it: exit 2 without a copy, "precision":"int8" on
// results, and hostile input (a folder with no readable photos, an unreadable photo among good ones).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeModel } from '../../src-main/engine/model/onnx-proto.js';
import { TORCHVISION_PREPROCESSING, preprocessFile } from '../../src-main/engine/preprocess/preprocess.js';
import { findInt8Copy } from '../../src-main/engine/quantize/int8-store.js';
import { compareLogits, quantizeModel } from '../../src-main/engine/quantize/quantize-model.js';
import { type FixtureSpec, ensureFixture } from '../fixtures/generate.js';
import { photoLike } from '../helpers/bad-inputs.js';
import { jsonLines, runCli } from '../helpers/cli.js';

/**
 * Floors on all 12 photos (calibrated on 10 of them, 2 held back), random-weight fixtures, percentile
 * calibration. Measured: top-1 agreement 11–12 of 12, top-5 overlap 0.97–0.98, mean KL 0.0015–0.007.
 */
const FLOOR = { top1Agreement: 0.75, top5Overlap: 0.6 };

let dir: string;
let photos: string[];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'reslens-quantize-'));
  photos = [];
  for (let i = 0; i < 12; i++) {
    const file = path.join(dir, 'photos', `p${String(i).padStart(2, '0')}.jpg`);
    await import('node:fs/promises').then((fs) => fs.mkdir(path.dirname(file), { recursive: true }));
    await writeFile(file, await photoLike(320 + 16 * i, 256, 'jpeg', 100 + i));
    photos.push(file);
  }
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function logits(model: string, inputs: Float32Array[]): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(model, { graphOptimizationLevel: 'all', logSeverityLevel: 3 });
  try {
    const out: Float32Array[] = [];
    for (const x of inputs)
      out.push(
        Float32Array.from(
          (await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, [1, 3, 224, 224]) }))[session.outputNames[0]].data as Float32Array,
        ),
      );
    return out;
  } finally {
    await session.release();
  }
}

/** Operator histogram of the graph onnxruntime actually runs (its optimised model, written out). */
async function optimisedOperators(model: string): Promise<Record<string, number>> {
  const file = path.join(dir, `optimised-${path.basename(model)}`);
  const session = await ort.InferenceSession.create(model, { graphOptimizationLevel: 'all', optimizedModelFilePath: file, logSeverityLevel: 3 });
  await session.release();
  const ops: Record<string, number> = {};
  for (const node of decodeModel(await readFile(file)).graph.node) ops[node.opType] = (ops[node.opType] ?? 0) + 1;
  return ops;
}

const FIXTURES: FixtureSpec[] = [
  { depth: 18, variant: 'v1', bn: 'explicit' },
  { depth: 18, variant: 'v1', bn: 'folded' },
  { depth: 50, variant: 'v1', bn: 'folded' },
  { depth: 50, variant: 'v2', bn: 'explicit' },
];

describe.each(FIXTURES)('quantised ResNet-$depth $variant BN $bn', (spec) => {
  it('runs on int8 kernels and agrees with fp32 above the floor', async () => {
    const model = await ensureFixture(spec);
    const convs = decodeModel(await readFile(model)).graph.node.filter((n) => n.opType === 'Conv').length;
    const storeDir = path.join(dir, `store-${spec.depth}-${spec.variant}-${spec.bn}`);
    const result = await quantizeModel({
      modelPath: model,
      modelName: path.basename(model),
      storeDir,
      preprocessing: TORCHVISION_PREPROCESSING,
      images: photos,
    });
    expect(result.skipped).toEqual([]);
    expect(result.record.calibrationImages).toBe(10);
    expect(result.record.fidelity.images).toBe(2);
    // Found again by the fp32 model's SHA-256.
    const found = await findInt8Copy(storeDir, result.record.sourceSha256);
    expect(found?.model).toBe(result.path);

    const ops = await optimisedOperators(result.path);
    // Every convolution of the model became an int8 QLinearConv.
    expect(ops.QLinearConv).toBe(convs);
    if (spec.variant !== 'v2') {
      // v1: nothing float is left between them, and the residual adds are int8 too. (v2's block-input
      // BatchNormalizations stay float between DQ and Q: there is no int8 kernel for them.)
      expect(ops.Conv ?? 0).toBe(0);
      expect(ops.FusedConv ?? 0).toBe(0);
      expect(ops.QLinearAdd).toBe(spec.depth === 18 ? 8 : 16);
    }

    const inputs = await Promise.all(photos.map(async (p) => (await preprocessFile(p, TORCHVISION_PREPROCESSING)).tensor));
    const fidelity = compareLogits(await logits(model, inputs), await logits(result.path, inputs));
    console.log(`ResNet-${spec.depth} ${spec.variant} ${spec.bn}: ${JSON.stringify(fidelity)} · int8 ops ${JSON.stringify(ops)}`);
    expect(fidelity.top1Agreement).toBeGreaterThanOrEqual(FLOOR.top1Agreement);
    expect(fidelity.top5Overlap).toBeGreaterThanOrEqual(FLOOR.top5Overlap);
    expect(fidelity.meanKl).toBeLessThan(0.5);
  }, 180_000);
});

describe('entropy (KL) calibration', () => {
  it('quantises ResNet-50 with ranges clipped by KL divergence, above the same floor, and records the method', async () => {
    const model = await ensureFixture({ depth: 50, variant: 'v1', bn: 'folded' });
    const storeDir = path.join(dir, 'store-entropy');
    const result = await quantizeModel({
      modelPath: model,
      modelName: path.basename(model),
      storeDir,
      preprocessing: TORCHVISION_PREPROCESSING,
      images: photos,
      method: 'entropy',
    });
    expect(result.record.method).toBe('entropy');
    expect((await findInt8Copy(storeDir, result.record.sourceSha256))?.record.method).toBe('entropy');
    const inputs = await Promise.all(photos.map(async (p) => (await preprocessFile(p, TORCHVISION_PREPROCESSING)).tensor));
    const fidelity = compareLogits(await logits(model, inputs), await logits(result.path, inputs));
    console.log(`ResNet-50 entropy: ${JSON.stringify(fidelity)}`);
    expect(fidelity.top1Agreement).toBeGreaterThanOrEqual(FLOOR.top1Agreement);
    expect(fidelity.top5Overlap).toBeGreaterThanOrEqual(FLOOR.top5Overlap);
  }, 240_000);
});

describe('reslens quantize and --precision int8', () => {
  it('refuses int8 before a copy exists (exit 2 naming reslens quantize), then marks every result', async () => {
    const model = await ensureFixture({ depth: 18, bn: 'folded' });
    const storeDir = path.join(dir, 'cli-store');
    const before = await runCli(['--models-dir', storeDir, 'classify', photos[0], '--model', model, '--precision', 'int8', '--json']);
    expect(before.code).toBe(2);
    expect(before.stderr).toContain('reslens quantize');
    expect(before.stdout).toBe('');

    const missing = await runCli(['--models-dir', storeDir, 'quantize', model]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--calibrate');

    // An unreadable "photo" among the good ones is skipped with its reason; the rest calibrate.
    await writeFile(path.join(dir, 'photos', 'zz-broken.jpg'), Buffer.from('not a jpeg at all'));
    const made = await runCli(['--models-dir', storeDir, 'quantize', model, '--calibrate', path.join(dir, 'photos'), '--json'], { timeoutMs: 170_000 });
    await rm(path.join(dir, 'photos', 'zz-broken.jpg'));
    expect(made.code, made.stderr).toBe(0);
    expect(made.stderr).toMatch(/skipped .*zz-broken\.jpg/);
    const record = JSON.parse(made.stdout) as {
      sourceSha256: string;
      calibrationImages: number;
      calibrationSha256: string;
      calibrationSource: string;
      fidelity: { top1Agreement: number };
    };
    expect(record.calibrationImages).toBe(10);
    // Where the photos came from is recorded (the app shows it beside the agreement) and printed with every int8 run.
    expect(record.calibrationSource).toBe(`the photos in ${path.resolve(dir, 'photos')}`);
    expect(record.calibrationSha256).toMatch(/^[0-9a-f]{64}$/);

    const after = await runCli(['--models-dir', storeDir, 'classify', photos[0], photos[1], '--model', model, '--precision', 'int8', '--json']);
    expect(after.code, after.stderr).toBe(0);
    const results = jsonLines<{ precision?: string; top: unknown[] }>(after.stdout);
    expect(results).toHaveLength(2);
    for (const r of results) expect(r.precision).toBe('int8');
    expect(after.stderr).toMatch(/precision: int8 .*top-1 agreement/);
    expect(after.stderr).toContain(`precision: int8 (calibrated on 10 of the photos in ${path.resolve(dir, 'photos')}, percentile;`);
    // Feature maps on int8 come from fp32, said on stderr and in the summary.
    const out = path.join(dir, 'features-int8');
    const features = await runCli(['--models-dir', storeDir, 'features', photos[0], '--model', model, '--precision', 'int8', '--out', out]);
    expect(features.code, features.stderr).toBe(0);
    expect(features.stderr).toMatch(/note: feature maps .* fp32/);
    expect(JSON.parse(await readFile(path.join(out, 'summary.json'), 'utf8'))).toMatchObject({ precision: 'fp32' });
    // fp32 results stay as they were: no precision key.
    const fp32 = await runCli(['--models-dir', storeDir, 'classify', photos[0], '--model', model, '--json']);
    expect(jsonLines<{ precision?: string }>(fp32.stdout)[0].precision).toBeUndefined();
  }, 240_000);

  it("batch --precision int8 with no copy yet calibrates on the batch's first photos, says so, and marks the export", async () => {
    const model = await ensureFixture({ depth: 18, bn: 'explicit' });
    const storeDir = path.join(dir, 'cli-store-batch');
    const out = path.join(dir, 'batch-int8', 'results.csv');
    const run = await runCli(['--models-dir', storeDir, 'batch', path.join(dir, 'photos'), '--model', model, '--precision', 'int8', '--out', out], {
      timeoutMs: 200_000,
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/no int8 copy of .* yet: calibrating one on the first 12 photos of the batch/);
    expect(run.stderr).toMatch(/int8: calibrated for this run on the first 12 photos/);
    const { csvRecords } = await import('../helpers/csv.js');
    const rows = csvRecords(await readFile(out, 'utf8'));
    expect(rows).toHaveLength(12);
    for (const row of rows) expect(row.precision).toBe('int8');
    // The copy stays in the store, with where its photos came from; the next run uses it without calibrating.
    const { sha256File } = await import('../../src-main/engine/model/download.js');
    const copy = await findInt8Copy(storeDir, (await sha256File(model)).sha256);
    expect(copy?.record.calibrationSource).toMatch(/^the first 12 photos of the batch on /);
    expect(copy?.record.calibrationImages).toBe(10);
    const again = await runCli(
      ['--models-dir', storeDir, 'batch', photos[0], '--model', model, '--precision', 'int8', '--out', path.join(dir, 'batch-int8', 'again.json')],
      { timeoutMs: 120_000 },
    );
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).not.toMatch(/calibrat(ing|ed for this run)/);
    expect(JSON.parse(await readFile(path.join(dir, 'batch-int8', 'again.json'), 'utf8'))).toMatchObject({ precision: 'int8' });
  }, 320_000);

  it('says so when the calibration folder has no readable photos', async () => {
    const model = await ensureFixture({ depth: 18, bn: 'folded' });
    const empty = path.join(dir, 'no-photos');
    await import('node:fs/promises').then((fs) => fs.mkdir(empty, { recursive: true }));
    await writeFile(path.join(empty, 'notes.jpg'), 'hello');
    const run = await runCli(['--models-dir', path.join(dir, 'cli-store-2'), 'quantize', model, '--calibrate', empty]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/no (readable photos|images)/);
  }, 60_000);
});

describe('held-back photos', () => {
  it('never calibrate on a photo they measure', async () => {
    const { splitHeldBack } = await import('../../src-main/engine/quantize/quantize-model.js');
    for (let n = 0; n <= 23; n++) {
      const items = Array.from({ length: n }, (_, i) => i);
      const { calibration, heldBack } = splitHeldBack(items);
      expect([...calibration, ...heldBack].sort((a, b) => a - b)).toEqual(items);
      expect(calibration.filter((i) => heldBack.includes(i))).toEqual([]);
      expect(heldBack.length).toBe(n < 3 ? 0 : n < 5 ? 1 : Math.floor(n / 5));
    }
  });
});
