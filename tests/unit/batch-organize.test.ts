// Organising copies by predicted class: safe folder names, no overwrite ever, originals untouched.
import { lstat, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UNCERTAIN_FOLDER, folderFor, folderName, organizeOne } from '../../src-main/engine/batch/organize.js';
import type { ClassifyResult } from '../../src-main/engine/infer/classify-files.js';

const result = (p: string, label: string, prob: number, index = 1): ClassifyResult => ({
  path: p,
  top: [{ index, label, prob }],
  model: 'm',
  ep: 'cpu',
  ms: 1,
});

describe('batch organise', () => {
  let dir: string;
  let src: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'reslens-organize-'));
    src = path.join(dir, 'src');
    await mkdir(path.join(src, 'x'), { recursive: true });
    await mkdir(path.join(src, 'y'), { recursive: true });
    await writeFile(path.join(src, 'x', 'cat.jpg'), 'one');
    await writeFile(path.join(src, 'y', 'cat.jpg'), 'two');
    await writeFile(path.join(src, 'x', 'dog.jpg'), 'three');
    await writeFile(path.join(src, 'x', 'noext'), 'four');
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('turns labels into folder names that work everywhere', () => {
    expect(folderName('tiger shark', 3)).toBe('tiger shark');
    expect(folderName('AC/DC: live?', 4)).toBe('AC_DC_ live_');
    expect(folderName('ends with dots...', 5)).toBe('ends with dots');
    expect(folderName('CON', 6)).toBe('CON_');
    expect(folderName('..', 7)).toBe('class 7');
    expect(folderName('tab\there', 8)).toBe('tab_here');
    expect(folderName('_uncertain', 9)).toBe('_uncertain_');
    expect(folderName('crane', 1, ['x', 'crane', 'crane'])).toBe('crane (1)');
    expect(folderName('x'.repeat(300), 1).length).toBeLessThanOrEqual(100);
  });

  it('sends low-confidence results to _uncertain and skips failures', () => {
    expect(folderFor(result('/a.jpg', 'cat', 0.4), { minProb: 0.5 })).toBe(UNCERTAIN_FOLDER);
    expect(folderFor(result('/a.jpg', 'cat', 0.5), { minProb: 0.5 })).toBe('cat');
    expect(folderFor(result('/a.jpg', 'cat', 0.01), {})).toBe('cat');
    expect(folderFor({ path: '/a.jpg', error: { code: 'DECODE_FAILED', message: 'x' } }, {})).toBeUndefined();
  });

  it('copies with collision-safe names, never overwriting, and leaves originals alone', async () => {
    const dest = path.join(dir, 'dest1');
    const taken = new Set<string>();
    const a = await organizeOne(result(path.join(src, 'x', 'cat.jpg'), 'tabby', 0.9), { dest }, taken);
    const b = await organizeOne(result(path.join(src, 'y', 'cat.jpg'), 'tabby', 0.9), { dest }, taken);
    const c = await organizeOne(result(path.join(src, 'x', 'noext'), 'tabby', 0.9), { dest }, taken);
    expect(a).toMatchObject({ status: 'copied', to: path.join(dest, 'tabby', 'cat.jpg') });
    expect(b).toMatchObject({ status: 'copied', to: path.join(dest, 'tabby', 'cat (1).jpg') });
    expect(c).toMatchObject({ status: 'copied', to: path.join(dest, 'tabby', 'noext') });
    expect(await readFile(path.join(dest, 'tabby', 'cat.jpg'), 'utf8')).toBe('one');
    expect(await readFile(path.join(dest, 'tabby', 'cat (1).jpg'), 'utf8')).toBe('two');
    expect(await readFile(path.join(src, 'x', 'cat.jpg'), 'utf8')).toBe('one');
    // A later session (fresh `taken`): an existing different file is not overwritten; the same bytes count as done.
    const again = await organizeOne(result(path.join(src, 'y', 'cat.jpg'), 'tabby', 0.9), { dest }, new Set());
    expect(again).toMatchObject({ status: 'already', to: path.join(dest, 'tabby', 'cat (1).jpg') });
    await writeFile(path.join(dest, 'tabby', 'dog.jpg'), 'someone else');
    const dog = await organizeOne(result(path.join(src, 'x', 'dog.jpg'), 'tabby', 0.9), { dest }, new Set());
    expect(dog).toMatchObject({ status: 'copied', to: path.join(dest, 'tabby', 'dog (1).jpg') });
    expect(await readFile(path.join(dest, 'tabby', 'dog.jpg'), 'utf8')).toBe('someone else');
  });

  it('plans without touching the disk in a dry run', async () => {
    const dest = path.join(dir, 'dest2');
    const taken = new Set<string>();
    const a = await organizeOne(result(path.join(src, 'x', 'cat.jpg'), 'tabby', 0.2), { dest, dryRun: true, minProb: 0.5 }, taken);
    const b = await organizeOne(result(path.join(src, 'y', 'cat.jpg'), 'tabby', 0.2), { dest, dryRun: true, minProb: 0.5 }, taken);
    expect(a).toMatchObject({ status: 'planned', folder: '_uncertain', to: path.join(dest, '_uncertain', 'cat.jpg') });
    expect(b).toMatchObject({ status: 'planned', to: path.join(dest, '_uncertain', 'cat (1).jpg') });
    await expect(stat(dest)).rejects.toThrow();
  });

  it('links instead of copying when asked', async () => {
    const dest = path.join(dir, 'dest3');
    const hard = await organizeOne(result(path.join(src, 'x', 'cat.jpg'), 'tabby', 0.9), { dest, mode: 'hardlink' }, new Set());
    expect(hard?.status).toBe('linked');
    expect((await stat(hard?.to as string)).ino).toBe((await stat(path.join(src, 'x', 'cat.jpg'))).ino);
    const soft = await organizeOne(result(path.join(src, 'x', 'dog.jpg'), 'tabby', 0.9), { dest, mode: 'symlink' }, new Set());
    expect(soft?.status).toBe('linked');
    expect((await lstat(soft?.to as string)).isSymbolicLink()).toBe(true);
    expect(await readdir(path.join(dest, 'tabby'))).toEqual(['cat.jpg', 'dog.jpg']);
  });

  it('reports a file that vanished before it could be copied', async () => {
    const action = await organizeOne(result(path.join(src, 'missing.jpg'), 'tabby', 0.9), { dest: path.join(dir, 'dest4') }, new Set());
    expect(action).toMatchObject({ status: 'error', error: { code: 'FILE_NOT_FOUND' } });
  });
});
