// The gallery's thumbnailer (issue 15): bounded size, cached by what the file is now, clear errors
// for hostile or careless inputs (a FIFO, a folder, a deleted photo, a non-image, a planted cache file).
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_THUMB, ThumbnailCache, jpegSize } from '../../src-main/engine/sessions/result-thumbnails.js';
import { photoLike, pngHeaderBomb } from '../helpers/bad-inputs.js';

describe('result thumbnails', () => {
  let dir: string;
  let cacheDir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'reslens-thumbs-'));
    cacheDir = path.join(dir, 'cache');
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  const cachedFiles = async () => (await readdir(cacheDir, { recursive: true })).filter((f) => f.endsWith('.jpg'));

  it('makes a small upright JPEG, bounded whatever is asked, and serves the second request from the cache', async () => {
    const file = path.join(dir, 'photo.jpg');
    await writeFile(file, await photoLike(1200, 800, 'jpeg', 3));
    const cache = new ThumbnailCache({ dir: cacheDir });
    const thumb = await cache.get(file, 256);
    expect(Math.max(thumb.width, thumb.height)).toBe(256);
    const meta = await sharp(Buffer.from(thumb.jpeg)).metadata();
    expect(meta.format).toBe('jpeg');
    expect([meta.width, meta.height]).toEqual([thumb.width, thumb.height]);
    expect(await cachedFiles()).toHaveLength(1);
    const again = await cache.get(file, 256);
    expect(Buffer.from(again.jpeg).equals(Buffer.from(thumb.jpeg))).toBe(true);
    expect(await cachedFiles()).toHaveLength(1);
    // Never bigger than MAX_THUMB, even if a caller skipped the contract's schema.
    const huge = await cache.get(file, 100_000);
    expect(Math.max(huge.width, huge.height)).toBe(MAX_THUMB);
    const nan = await cache.get(file, Number.NaN);
    expect(Math.max(nan.width, nan.height)).toBeLessThanOrEqual(MAX_THUMB);
  });

  it('an edited photo gets a new thumbnail (the key is the file as it is now)', async () => {
    const file = path.join(dir, 'edited.jpg');
    await writeFile(file, await photoLike(300, 200, 'jpeg', 1));
    const cache = new ThumbnailCache({ dir: cacheDir });
    const before = await cache.get(file, 128);
    await writeFile(file, await photoLike(200, 300, 'jpeg', 2));
    await utimes(file, new Date(), new Date(Date.now() + 5000));
    const after = await cache.get(file, 128);
    expect([after.width, after.height]).toEqual([before.height, before.width]);
  });

  it('a planted or damaged cache file is not served: the thumbnail is made again', async () => {
    const file = path.join(dir, 'planted.jpg');
    await writeFile(file, await photoLike(300, 200, 'jpeg', 4));
    const cache = new ThumbnailCache({ dir: path.join(dir, 'cache2') });
    await cache.get(file, 64);
    const [cached] = (await readdir(path.join(dir, 'cache2'), { recursive: true })).filter((f) => f.endsWith('.jpg'));
    await writeFile(path.join(dir, 'cache2', cached), 'not a jpeg at all');
    const thumb = await cache.get(file, 64);
    expect(jpegSize(thumb.jpeg)).toEqual({ width: thumb.width, height: thumb.height });
  });

  it.each([
    ['a deleted photo', async () => path.join(dir, 'nope.jpg'), 'FILE_NOT_FOUND'],
    ['a folder', async () => dir, 'NOT_A_FILE'],
    [
      'a FIFO (never opened: reading it would hang)',
      async () => {
        const fifo = path.join(dir, 'pipe.jpg');
        execFileSync('mkfifo', [fifo]);
        return fifo;
      },
      'NOT_A_FILE',
    ],
    [
      'text named .jpg',
      async () => {
        const f = path.join(dir, 'notes.jpg');
        await writeFile(f, 'hello');
        return f;
      },
      'NOT_AN_IMAGE',
    ],
    [
      'a PNG header claiming 100k×100k pixels',
      async () => {
        const f = path.join(dir, 'bomb.png');
        await writeFile(f, pngHeaderBomb(100_000, 100_000));
        return f;
      },
      /IMAGE_TOO_LARGE|DECODE_FAILED/,
    ],
  ])('%s is a clear per-item error', async (_what, make, code) => {
    const cache = new ThumbnailCache({ dir: cacheDir });
    const file = await make();
    const error = await cache.get(file, 128).then(
      () => null,
      (e: unknown) => e as { code: string },
    );
    expect(error).not.toBeNull();
    expect(error?.code).toMatch(code);
  });

  it('the cache stays under its bound', async () => {
    const cache = new ThumbnailCache({ dir: path.join(dir, 'small-cache'), maxBytes: 4000 });
    await mkdir(path.join(dir, 'many'), { recursive: true });
    for (let i = 0; i < 6; i++) {
      const f = path.join(dir, 'many', `p${i}.jpg`);
      await writeFile(f, await photoLike(200, 200, 'jpeg', i + 10));
      await cache.get(f, 96);
    }
    await cache.prune();
    const files = (await readdir(path.join(dir, 'small-cache'), { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
    expect(files.length).toBeGreaterThan(0);
    expect(files.length).toBeLessThan(6);
  });
});
