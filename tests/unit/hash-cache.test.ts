// A model's SHA-256 remembered per file identity (engine/model/hash-cache.ts): read from the cache
// for the same file, computed again for an edited or replaced one, never trusted when damaged.
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachedSha256File } from '../../src-main/engine/model/hash-cache.js';

let dir: string;
const sha = (bytes: string): string => createHash('sha256').update(bytes).digest('hex');

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'reslens-hash-cache-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function onlyEntry(cacheDir: string): Promise<string> {
  const files = await readdir(path.join(cacheDir, 'hashes'));
  expect(files).toHaveLength(1);
  return path.join(cacheDir, 'hashes', files[0]);
}

describe('cachedSha256File', () => {
  it('hashes a file once and answers from the cache while the file is the same', async () => {
    const cacheDir = path.join(dir, 'cache-1');
    const model = path.join(dir, 'a.onnx');
    await writeFile(model, 'weights, version 1');
    expect(await cachedSha256File(model, cacheDir)).toBe(sha('weights, version 1'));
    // The answer now comes from the entry, not the file: a planted value for the same identity is returned as is.
    const entryFile = await onlyEntry(cacheDir);
    const entry = JSON.parse(await readFile(entryFile, 'utf8')) as { identity: string; sha256: string };
    await writeFile(entryFile, JSON.stringify({ ...entry, sha256: 'f'.repeat(64) }));
    expect(await cachedSha256File(model, cacheDir)).toBe('f'.repeat(64));
  });

  it('hashes again when the file is edited or replaced', async () => {
    const cacheDir = path.join(dir, 'cache-2');
    const model = path.join(dir, 'b.onnx');
    await writeFile(model, 'first');
    expect(await cachedSha256File(model, cacheDir)).toBe(sha('first'));
    await writeFile(model, 'second, same file'); // new size and times
    expect(await cachedSha256File(model, cacheDir)).toBe(sha('second, same file'));
    await rm(model);
    await writeFile(model, 'fourth'); // a new inode under the old name
    expect(await cachedSha256File(model, cacheDir)).toBe(sha('fourth'));
  });

  it('ignores a damaged entry or an entry for another file, and works without a cache folder', async () => {
    const cacheDir = path.join(dir, 'cache-3');
    const model = path.join(dir, 'c.onnx');
    await writeFile(model, 'c');
    await cachedSha256File(model, cacheDir);
    const entryFile = await onlyEntry(cacheDir);
    await writeFile(entryFile, '{"identity": 3, "sha256": "not a hash"');
    expect(await cachedSha256File(model, cacheDir)).toBe(sha('c'));
    await writeFile(entryFile, JSON.stringify({ identity: 'someone else', sha256: 'e'.repeat(64) }));
    expect(await cachedSha256File(model, cacheDir)).toBe(sha('c'));
    expect(await cachedSha256File(model, undefined)).toBe(sha('c'));
  });

  it('still hashes when the cache folder cannot be written', async () => {
    const blocked = path.join(dir, 'not-a-folder');
    await writeFile(blocked, 'a file where the cache folder would be');
    const model = path.join(dir, 'd.onnx');
    await writeFile(model, 'd');
    expect(await cachedSha256File(model, blocked)).toBe(sha('d'));
  });
});
