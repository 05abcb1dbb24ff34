// The CPU session cache (engine/infer/ort-format-cache.ts): the optimised model is stored in ORT
// format, the next session opens it from those bytes (and drops them), the logits stay bit-identical to
// a session made from the .onnx file, and a damaged cache file is replaced rather than trusted.
// (Its speed is measured in `npm run bench:startup`.)
import { readFile, readdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession } from '../../src-main/engine/infer/session.js';
import { TORCHVISION_PREPROCESSING, preprocessBytes } from '../../src-main/engine/preprocess/preprocess.js';
import { ensureFixture } from '../fixtures/generate.js';
import { photoLike } from '../helpers/bad-inputs.js';

const sameBits = (a: Float32Array, b: Float32Array): boolean =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

let cacheDir: string;
let model: string;
let input: ort.Tensor;
beforeAll(async () => {
  cacheDir = await mkdtemp(path.join(os.tmpdir(), 'reslens-ort-cache-'));
  model = await ensureFixture({ depth: 50, bn: 'folded' });
  input = new ort.Tensor('float32', (await preprocessBytes(await photoLike(320, 240, 'jpeg', 4), TORCHVISION_PREPROCESSING)).tensor, [1, 3, 224, 224]);
}, 120_000);
afterAll(async () => {
  await rm(cacheDir, { recursive: true, force: true });
});

async function logits(session: ort.InferenceSession): Promise<Float32Array> {
  const out = await session.run({ [session.inputNames[0]]: input });
  return (out[session.outputNames[0]].data as Float32Array).slice();
}

const open = () => createSession(model, { ep: 'cpu', threads: 2, cacheDir, modelSha256: 'a'.repeat(64) });

describe('the optimised-model cache in ORT format', () => {
  it('is written on the first load, opened from it on the next, with identical logits', async () => {
    const plain = await ort.InferenceSession.create(model, { graphOptimizationLevel: 'all', intraOpNumThreads: 2 });
    const expected = await logits(plain);
    await plain.release();

    const first = await open();
    expect(first.fromCache).toBe(false);
    expect(sameBits(await logits(first.session), expected)).toBe(true);
    await first.session.release();

    const files = await readdir(path.join(cacheDir, 'optimized'));
    expect(files, 'no temporary file left behind').toHaveLength(1);
    expect(files[0]).toMatch(/\.ort$/);
    // The ORT format is a flatbuffer whose file identifier "ORTM" sits at byte 4.
    const bytes = await readFile(path.join(cacheDir, 'optimized', files[0]));
    expect(bytes.subarray(4, 8).toString('latin1')).toBe('ORTM');

    const second = await open();
    expect(second.fromCache).toBe(true);
    // Many runs, with garbage collection between them: the file's bytes are dropped after the load,
    // so the session must own everything it reads.
    for (let i = 0; i < 3; i++) {
      (globalThis as { gc?: () => void }).gc?.();
      expect(sameBits(await logits(second.session), expected), `run ${i}`).toBe(true);
    }
    await second.session.release();
  }, 120_000);

  it('a damaged cache file is dropped and rebuilt, and the session still loads', async () => {
    const [file] = await readdir(path.join(cacheDir, 'optimized'));
    const full = path.join(cacheDir, 'optimized', file);
    const good = await readFile(full);
    await writeFile(full, good.subarray(0, 5000));
    const reopened = await open();
    expect(reopened.fromCache).toBe(false);
    await reopened.session.release();
    expect((await readFile(full)).length).toBe(good.length);
    const cached = await open();
    expect(cached.fromCache).toBe(true);
    await cached.session.release();
  }, 120_000);
});
