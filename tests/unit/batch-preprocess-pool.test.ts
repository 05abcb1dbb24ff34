// The preprocessing worker pool: the same tensors as the main thread, errors as values, buffers
// recycled, queued work cancelled on close.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPreprocessor } from '../../src-main/engine/batch/preprocess-pool.js';
import { TORCHVISION_PREPROCESSING } from '../../src-main/engine/preprocess/preprocess.js';
import { photoLike } from '../helpers/bad-inputs.js';

describe('preprocessing pool', () => {
  let dir: string;
  const files: string[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'reslens-pool-'));
    for (let i = 0; i < 6; i++) {
      const file = path.join(dir, `p${i}.jpg`);
      await writeFile(file, await photoLike(300 + 17 * i, 220, 'jpeg', i + 3));
      files.push(file);
    }
    await writeFile(path.join(dir, 'text.jpg'), 'hello');
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('gives bit-identical tensors in workers and on the main thread, queued several per worker', async () => {
    const workers = await createPreprocessor(2);
    const main = await createPreprocessor(0);
    expect(workers.kind).toBe('workers');
    expect(main.kind).toBe('main-thread');
    try {
      const spec = TORCHVISION_PREPROCESSING;
      const [fromWorkers, fromMain] = await Promise.all([
        Promise.all(files.map((file) => workers.run({ file, spec }))),
        Promise.all(files.map((file) => main.run({ file, spec }))),
      ]);
      for (let i = 0; i < files.length; i++) {
        const a = fromWorkers[i];
        const b = fromMain[i];
        if ('error' in a || 'error' in b) throw new Error('unexpected error');
        expect(a.tensor.length).toBe(3 * 224 * 224);
        expect(Buffer.from(a.tensor.buffer).equals(Buffer.from(b.tensor.buffer)), files[i]).toBe(true);
        expect(a.ms).toBeGreaterThan(0);
      }
      // A spent tensor goes back as storage for the next one.
      const first = fromWorkers[0];
      if ('error' in first) throw new Error('unexpected error');
      const again = await workers.run({ file: files[1], spec }, first.tensor);
      expect(again.tensor?.length).toBe(3 * 224 * 224);
      const bad = await workers.run({ file: path.join(dir, 'text.jpg'), spec });
      expect(bad).toMatchObject({ error: { code: 'NOT_AN_IMAGE' } });
      const missing = await workers.run({ file: path.join(dir, 'gone.jpg'), spec });
      expect(missing).toMatchObject({ error: { code: 'FILE_NOT_FOUND' } });
    } finally {
      await workers.close();
      await main.close();
    }
  });

  it('answers queued jobs with CANCELLED when closed', async () => {
    const workers = await createPreprocessor(1);
    const jobs = files.map((file) => workers.run({ file, spec: TORCHVISION_PREPROCESSING }));
    await workers.close();
    const outcomes = await Promise.all(jobs);
    expect(outcomes.some((o) => 'error' in o && o.error.code === 'CANCELLED')).toBe(true);
    expect(await workers.run({ file: files[0], spec: TORCHVISION_PREPROCESSING })).toMatchObject({ error: { code: 'CANCELLED' } });
  });
});
