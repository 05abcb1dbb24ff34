// Every file of the bad-input set gets its own specific error (or a sensible result), and nothing
// crashes or hangs: engine level (preprocessing + folder walk).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type WalkItem, walkInputs } from '../../src-main/engine/batch/walk.js';
import { EngineError } from '../../src-main/engine/core/errors.js';
import { TORCHVISION_PREPROCESSING, preprocessFile } from '../../src-main/engine/preprocess/preprocess.js';
import { type BadInputCase, writeBadInputSet } from '../helpers/bad-inputs.js';

describe('bad inputs', () => {
  let folder: string;
  let cases: BadInputCase[];
  beforeAll(async () => {
    folder = await mkdtemp(path.join(os.tmpdir(), 'reslens-bad-'));
    cases = await writeBadInputSet(folder);
  });
  afterAll(async () => rm(folder, { recursive: true, force: true }));

  it('preprocessing gives each file its specific outcome', async () => {
    for (const c of cases.filter((x) => x.expect !== 'folder')) {
      const outcome = await preprocessFile(path.join(folder, c.file), TORCHVISION_PREPROCESSING).then(
        (r) => {
          expect(r.tensor).toHaveLength(3 * 224 * 224);
          expect(r.tensor.every(Number.isFinite), c.file).toBe(true);
          return 'ok';
        },
        (error: unknown) => {
          expect(error, c.file).toBeInstanceOf(EngineError);
          expect((error as EngineError).message.length, c.file).toBeGreaterThan(5);
          return (error as EngineError).code;
        },
      );
      expect(outcome, c.file).toBe(c.expect);
    }
  });

  it('flattens a fully transparent PNG onto white', async () => {
    const { tensor } = await preprocessFile(path.join(folder, 'transparent.png'), TORCHVISION_PREPROCESSING);
    const whiteRed = (1 - 0.485) / 0.229;
    expect(tensor[0]).toBeCloseTo(whiteRed, 5);
    expect(tensor[224 * 224 - 1]).toBeCloseTo(whiteRed, 5);
  });

  it('refuses the header bomb before decoding, quickly', async () => {
    const start = performance.now();
    await expect(preprocessFile(path.join(folder, 'bomb-50000x50000.png'), TORCHVISION_PREPROCESSING)).rejects.toThrow(/50000×50000.*limit/);
    expect(performance.now() - start).toBeLessThan(5000);
  });

  it('walks a folder with a symlink loop once, reporting the self-link', async () => {
    const items: WalkItem[] = [];
    for await (const item of walkInputs([path.join(folder, 'loop')])) items.push(item);
    expect(items.map((i) => path.relative(folder, i.path))).toEqual([path.join('loop', 'inner', 'nested.png'), path.join('loop', 'self.jpg')]);
    expect('error' in items[1] && items[1].error.code).toBe('SYMLINK_LOOP');
  });

  it('walks the whole set: hidden files skipped, non-images by content skipped, odd names kept', async () => {
    const found = [];
    for await (const item of walkInputs([folder])) found.push(path.relative(folder, item.path));
    expect(found).toContain('ünïcödé 写真.jpg');
    expect(found).toContain('100%.jpg');
    expect(found).toContain('hash#1.jpg');
    expect(found).toContain('notes.jpg'); // image extension: tried, and then refused by content
    expect(found).not.toContain('vector.svg'); // no image extension and not a raster by content
    expect(found).not.toContain('document.pdf');
    expect(found.filter((f) => f.endsWith('nested.png'))).toHaveLength(1);
  });
});
