// Model inspection: facts of real models, and a clear refusal for each kind of broken one.
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectModelFile } from '../../src-main/engine/model/inspect.js';
import { ensureFixture } from '../fixtures/generate.js';
import { REFERENCE_MODEL, TESTDATA, hasTestdata } from '../helpers/testdata.js';
import { imageOutputModel, tinyClassifier, vectorInputModel } from '../helpers/tiny-models.js';

describe('model inspection', () => {
  let folder: string;
  beforeAll(async () => {
    folder = await mkdtemp(path.join(os.tmpdir(), 'reslens-inspect-'));
  });
  afterAll(async () => rm(folder, { recursive: true, force: true }));

  it.runIf(hasTestdata)('reports the reference ResNet-50 as its manifest describes it', async () => {
    const manifest = JSON.parse(await readFile(path.join(TESTDATA, 'manifest.json'), 'utf8')) as {
      model: { sha256: string; opset: number; macs_224: number; bytes: number };
    };
    const info = await inspectModelFile(REFERENCE_MODEL);
    expect(info.sha256).toBe(manifest.model.sha256);
    expect(info.bytes).toBe(manifest.model.bytes);
    expect(info.opset).toBe(manifest.model.opset);
    expect(info.macs).toBe(manifest.model.macs_224);
    expect(info.input).toMatchObject({ name: 'input', shape: ['N', 3, 224, 224], layout: 'NCHW', dynamicBatch: true });
    expect(info.classes).toBe(1000);
    expect(info.operators.Conv).toBe(53);
  });

  it.each([
    [18, 11_689_512, 1.82e9],
    [50, 25_557_032, 4.09e9],
    [152, 60_192_808, 11.5e9],
  ])('ResNet-%i fixture (explicit BN): torchvision parameter count and MACs', async (depth, params, macs) => {
    const info = await inspectModelFile(await ensureFixture({ depth: depth as 18 | 50 | 152, bn: 'explicit' }));
    expect(info.params).toBe(params);
    expect(Math.abs(info.macs - macs) / macs).toBeLessThan(0.01);
    expect(info.classes).toBe(1000);
  });

  const write = async (name: string, data: Uint8Array | string): Promise<string> => {
    const file = path.join(folder, name);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, data);
    return file;
  };

  it('refuses a text file as not ONNX', async () => {
    const file = await write('notes.onnx', 'this is a README, not a network\n');
    await expect(inspectModelFile(file)).rejects.toMatchObject({ code: 'INVALID_MODEL', message: expect.stringMatching(/not an ONNX/) });
  });

  it('refuses a truncated model and says so', async () => {
    const full = await readFile(await ensureFixture({ depth: 18, bn: 'folded' }));
    const file = await write('cut.onnx', full.subarray(0, 5_000_000));
    await expect(inspectModelFile(file)).rejects.toMatchObject({ code: 'INVALID_MODEL', message: expect.stringMatching(/truncated/) });
  });

  it('refuses an empty file and a missing one', async () => {
    await expect(inspectModelFile(await write('empty.onnx', ''))).rejects.toMatchObject({ code: 'INVALID_MODEL', message: expect.stringMatching(/empty/) });
    await expect(inspectModelFile(path.join(folder, 'nope.onnx'))).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
  });

  it('refuses an input that is not an image tensor', async () => {
    const file = await write('vector.onnx', vectorInputModel());
    await expect(inspectModelFile(file)).rejects.toMatchObject({ code: 'UNSUPPORTED_MODEL', message: expect.stringMatching(/not an image tensor/) });
  });

  it('refuses an output that is not a class vector', async () => {
    const file = await write('image-out.onnx', imageOutputModel());
    await expect(inspectModelFile(file)).rejects.toMatchObject({ code: 'UNSUPPORTED_MODEL', message: expect.stringMatching(/not a class vector/) });
  });

  it('refuses external data that points outside the model folder, accepts it inside', async () => {
    const escaping = await write('nested/escape.onnx', tinyClassifier(4, '../../outside.bin'));
    await expect(inspectModelFile(escaping)).rejects.toMatchObject({ code: 'INVALID_MODEL', message: expect.stringMatching(/outside the model's folder/) });
    const absolute = await write('nested/absolute.onnx', tinyClassifier(4, '/etc/passwd'));
    await expect(inspectModelFile(absolute)).rejects.toMatchObject({ code: 'INVALID_MODEL' });
    const missing = await write('nested/missing.onnx', tinyClassifier(4, 'weights.bin'));
    await expect(inspectModelFile(missing)).rejects.toMatchObject({ code: 'INVALID_MODEL', message: expect.stringMatching(/missing/) });
    await write('nested/weights.bin', Buffer.from(new Float32Array(12).buffer));
    const info = await inspectModelFile(missing);
    expect(info.classes).toBe(4);
  });
});
