// Issue 14 #15 and #17 (models): malicious external data ResLens's own check missed (a link leading
// outside, external data on a Constant node and inside a subgraph), a legitimate `..w.bin` it
// refused, an import that copied only the .onnx, a broken model reported as EP_UNAVAILABLE under
// --ep cpu, and a 1.9 GB non-ONNX file read whole before being refused.
import { mkdir, mkdtemp, open, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectModelFile } from '../../src-main/engine/model/inspect.js';
import { decodeImage } from '../../src-main/engine/preprocess/decode.js';
import { ModelStore } from '../../src-main/engine/model/store.js';
import { photoLike } from '../helpers/bad-inputs.js';
import { jsonLines, runCli } from '../helpers/cli.js';
import { tinyClassifier, tinyClassifierConstantWeight } from '../helpers/tiny-models.js';

let dir: string;
const weights = Buffer.from(new Float32Array(12).fill(0.5).buffer);

async function write(relative: string, data: Uint8Array | string): Promise<string> {
  const file = path.join(dir, relative);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, data);
  return file;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'reslens-harden-models-'));
  await write('secret/private.bin', weights);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('#15 external data: every TensorProto, real paths, path segments', () => {
  it('refuses a link inside the model folder that leads outside it', async () => {
    const model = await write('linked/model.onnx', tinyClassifier(4, 'w.bin'));
    await symlink(path.join(dir, 'secret', 'private.bin'), path.join(dir, 'linked', 'w.bin'));
    await expect(inspectModelFile(model)).rejects.toMatchObject({ code: 'INVALID_MODEL', message: expect.stringMatching(/leads outside the model's folder/) });
  });

  it('refuses external data on a Constant node, at the top level and inside an If subgraph', async () => {
    const top = await write('constant/model.onnx', tinyClassifierConstantWeight(4, '../secret/private.bin'));
    await expect(inspectModelFile(top)).rejects.toMatchObject({
      code: 'INVALID_MODEL',
      message: expect.stringMatching(/Constant attribute value.*outside the model's folder/),
    });
    const nested = await write('subgraph/model.onnx', tinyClassifierConstantWeight(4, '../secret/private.bin', true));
    await expect(inspectModelFile(nested)).rejects.toMatchObject({
      code: 'INVALID_MODEL',
      message: expect.stringMatching(/subgraph.*outside the model's folder/),
    });
    const windows = await write('constant/win.onnx', tinyClassifierConstantWeight(4, '..\\secret\\private.bin'));
    await expect(inspectModelFile(windows)).rejects.toMatchObject({ code: 'INVALID_MODEL' });
  });

  it('accepts a legitimate file named ..w.bin (a name, not a step up)', async () => {
    const model = await write('dots/model.onnx', tinyClassifier(4, '..w.bin'));
    await write('dots/..w.bin', weights);
    const info = await inspectModelFile(model);
    expect(info.classes).toBe(4);
    expect(info.externalFiles).toEqual(['..w.bin']);
  });

  it('models import refuses a model with external data instead of storing an .onnx that cannot load', async () => {
    const model = await write('import/model.onnx', tinyClassifier(1000, 'w.bin'));
    await write('import/w.bin', Buffer.from(new Float32Array(3000).buffer));
    const store = new ModelStore(path.join(dir, 'store'));
    await expect(store.import(model, { name: 'external' })).rejects.toMatchObject({
      code: 'UNSUPPORTED_MODEL',
      message: expect.stringMatching(/external data file/),
    });
    expect(await readdir(path.join(dir, 'store')).catch(() => [])).not.toContain('external.onnx');
  });
});

describe('#15 a model onnxruntime cannot load, with --ep cpu', () => {
  it('is INVALID_MODEL (the model is the problem), not EP_UNAVAILABLE', async () => {
    // Passes ResLens's checks, but its external data is 4 bytes where 48 are declared: onnxruntime refuses it.
    const model = await write('short/model.onnx', tinyClassifier(1000, 'w.bin'));
    await write('short/w.bin', Buffer.alloc(4));
    const photo = await write('p.jpg', await photoLike(64, 64, 'jpeg', 1));
    const run = await runCli(['classify', photo, '--model', model, '--ep', 'cpu', '--json'], { env: { RESLENS_MODELS_DIR: path.join(dir, 'models') } });
    expect(run.code).not.toBe(0);
    const text = `${run.stdout}\n${run.stderr}`;
    expect(text).toMatch(/INVALID_MODEL/);
    expect(text).not.toMatch(/EP_UNAVAILABLE/);
    expect(jsonLines(run.stdout).length).toBeLessThanOrEqual(1);
  });
});

describe('#17 a huge file that is not ONNX', () => {
  it('is refused from its first byte, without reading 1.9 GB', async () => {
    const file = path.join(dir, 'movie.onnx');
    const handle = await open(file, 'w');
    await handle.write(Buffer.from('GIF89a'));
    await handle.truncate(Math.floor(1.9 * 1024 ** 3)); // sparse: no disk used
    await handle.close();
    await expect(inspectModelFile(file)).rejects.toMatchObject({ code: 'INVALID_MODEL', message: expect.stringMatching(/does not start like one/) });
  });
});

describe('#17 a GIF with a 65535×65535 logical screen', () => {
  it('is IMAGE_TOO_LARGE before libvips allocates the screen', async () => {
    // GIF89a, screen 65535×65535, no colour table; one 1×1 frame; trailer.
    const gif = Buffer.concat([
      Buffer.from('GIF89a', 'latin1'),
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00]),
      Buffer.from([0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b]),
    ]);
    await expect(decodeImage(gif, { item: 'bomb.gif' })).rejects.toMatchObject({
      code: 'IMAGE_TOO_LARGE',
      message: expect.stringMatching(/GIF screen is 65535×65535/),
    });
  });
});
