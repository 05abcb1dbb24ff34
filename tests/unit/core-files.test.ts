// core/files.ts replaceFile: the one way the engine writes a whole file (exports, caches, sidecars,
// session lists, the CLI's report). The attacker plants a link at the name; the careless user runs
// two writes at once or points at a folder that is gone.
import { lstat, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replaceFile, tempPathFor } from '../../src-main/engine/core/files.js';

describe('replaceFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'reslens-files-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the bytes whole, with the mode asked for, and leaves no temporary file', async () => {
    const file = path.join(dir, 'private.json');
    await replaceFile(file, '{"a":1}\n', { mode: 0o600 });
    expect(await readFile(file, 'utf8')).toBe('{"a":1}\n');
    expect((await stat(file)).mode & 0o077).toBe(0);
    await replaceFile(file, new Uint8Array([1, 2, 3]));
    expect([...(await readFile(file))]).toEqual([1, 2, 3]);
    expect((await readdir(dir)).filter((n) => n.startsWith('private.json'))).toEqual(['private.json']);
  });

  it('replaces a link planted at the name instead of writing through it', async () => {
    const victim = path.join(dir, 'victim.txt');
    await writeFile(victim, 'keep me');
    const file = path.join(dir, 'out.html');
    await symlink(victim, file);
    await replaceFile(file, '<p>report</p>');
    expect(await readFile(victim, 'utf8')).toBe('keep me');
    expect((await lstat(file)).isSymbolicLink()).toBe(false);
    expect(await readFile(file, 'utf8')).toBe('<p>report</p>');
  });

  it('two writes at once: one of them wins whole; a folder that is gone fails without leftovers', async () => {
    const file = path.join(dir, 'race.txt');
    await Promise.all([replaceFile(file, 'a'.repeat(100_000)), replaceFile(file, 'b'.repeat(100_000))]);
    const text = await readFile(file, 'utf8');
    expect(text === 'a'.repeat(100_000) || text === 'b'.repeat(100_000)).toBe(true);
    await expect(replaceFile(path.join(dir, 'gone', 'x.txt'), 'x')).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await readdir(dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('temporary names differ call to call, not only process to process (a pid alone can be guessed)', () => {
    const names = new Set(Array.from({ length: 50 }, () => tempPathFor('/x/results.csv')));
    expect(names.size).toBe(50);
    for (const name of names) expect(name).toMatch(/^\/x\/results\.csv\.\d+\.[0-9a-f]{8}\.tmp$/);
  });
});
