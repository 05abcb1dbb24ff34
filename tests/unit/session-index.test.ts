// The session index (issue 15): kept runs listed across restarts; written atomically; a damaged or
// hostile file is set aside with a note, never trusted as a path, never a crash.
import { mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Journal, journalPathFor } from '../../src-main/engine/batch/journal.js';
import { readRunRows } from '../../src-main/engine/sessions/run-rows.js';
import { MAX_SESSIONS, SESSION_INDEX_FILE, type SessionEntry, SessionIndex } from '../../src-main/engine/sessions/session-index.js';
import { IMAGES_SESSION_FILE, type ImageEntry, ImagesSession, MAX_IMAGES } from '../../src-main/engine/sessions/images-session.js';

const entry = (id: string, created = '2026-12-01T10:00:00.000Z', over: Partial<SessionEntry> = {}): SessionEntry => ({
  id,
  kind: 'batch',
  folder: '/photos/holiday',
  created,
  updated: created,
  model: 'resnet50',
  top: 5,
  mode: 'fast',
  state: 'done',
  done: 12,
  failed: 1,
  total: 12,
  ...over,
});

describe('session index', () => {
  let base: string;
  let n = 0;
  const freshDir = () => path.join(base, `d${n++}`);
  beforeAll(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'reslens-sessions-'));
  });
  afterAll(async () => rm(base, { recursive: true, force: true }));

  it('keeps runs across instances (a restart), newest first, and forgets one with its journal folder', async () => {
    const dir = freshDir();
    const first = new SessionIndex({ dir });
    await first.put(entry('batch_AAAAAAAAAA', '2026-12-01T10:00:00.000Z'));
    await first.put(entry('batch_BBBBBBBBBB', '2026-12-02T10:00:00.000Z'));
    await mkdir(first.runDir('batch_AAAAAAAAAA'), { recursive: true });
    await writeFile(path.join(first.runDir('batch_AAAAAAAAAA'), 'x.jsonl'), '');
    const again = new SessionIndex({ dir });
    expect((await again.list()).map((s) => s.id)).toEqual(['batch_BBBBBBBBBB', 'batch_AAAAAAAAAA']);
    await again.put({ ...entry('batch_AAAAAAAAAA'), state: 'cancelled', done: 3 });
    expect((await again.get('batch_AAAAAAAAAA'))?.state).toBe('cancelled');
    expect(await again.remove('batch_AAAAAAAAAA')).toBe(true);
    await expect(stat(again.runDir('batch_AAAAAAAAAA'))).rejects.toThrow();
    expect((await again.list()).map((s) => s.id)).toEqual(['batch_BBBBBBBBBB']);
    expect(again.notice).toBeNull();
    // Atomic writes leave no temp files behind; the index is private to the user.
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect((await stat(again.file)).mode & 0o077).toBe(0);
  });

  it('two engines on one data folder (two app windows) do not erase each other’s runs', async () => {
    const dir = freshDir();
    const a = new SessionIndex({ dir });
    const b = new SessionIndex({ dir });
    await Promise.all([a.put(entry('batch_window1xx')), b.put(entry('batch_window2xx', '2026-12-01T11:00:00.000Z'))]);
    await a.put(entry('batch_window1yy', '2026-12-01T12:00:00.000Z'));
    expect((await b.list()).map((s) => s.id).sort()).toEqual(['batch_window1xx', 'batch_window1yy', 'batch_window2xx']);
  });

  it.each([
    ['not JSON', '{"reslens": "session-index", "version": 1, "sessions": ['],
    ['the wrong shape', JSON.stringify({ reslens: 'session-index', version: 1, sessions: [{ id: 'batch_AAAAAAAAAA' }] })],
    ['a path traversal as id', JSON.stringify({ reslens: 'session-index', version: 1, sessions: [entry('batch_../../../etc')] })],
    ['an unknown key (prototype pollution)', `{"reslens":"session-index","version":1,"sessions":[],"__proto__":{"polluted":true}}`],
    ['a future version', JSON.stringify({ reslens: 'session-index', version: 99, sessions: [] })],
    ['a huge count', JSON.stringify({ reslens: 'session-index', version: 1, sessions: [entry('batch_AAAAAAAAAA', undefined, { done: 1e12 })] })],
  ])('a file with %s is set aside with a note and a fresh list starts', async (_what, body) => {
    const dir = freshDir();
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, SESSION_INDEX_FILE), body);
    const index = new SessionIndex({ dir });
    expect(await index.list()).toEqual([]);
    expect(index.notice).toMatch(/damaged .* moved to .*sessions\.json\.corrupt-/);
    const aside = (await readdir(dir)).filter((f) => f.startsWith(`${SESSION_INDEX_FILE}.corrupt-`));
    expect(aside).toHaveLength(1);
    expect(await readFile(path.join(dir, aside[0]), 'utf8')).toBe(body); // kept for the user, untouched
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    await index.put(entry('batch_CCCCCCCCCC'));
    expect((await new SessionIndex({ dir }).list()).map((s) => s.id)).toEqual(['batch_CCCCCCCCCC']);
  });

  it('a huge file is set aside without being parsed; a folder in its place too', async () => {
    const dir = freshDir();
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, SESSION_INDEX_FILE), Buffer.alloc(3 * 1024 * 1024, 0x20));
    const index = new SessionIndex({ dir });
    expect(await index.list()).toEqual([]);
    expect(index.notice).toMatch(/more than it ever needs/);
    const dir2 = freshDir();
    await mkdir(path.join(dir2, SESSION_INDEX_FILE), { recursive: true });
    const index2 = new SessionIndex({ dir: dir2 });
    expect(await index2.list()).toEqual([]);
    expect(index2.notice).toMatch(/folder/);
  });

  it('a planted temp-name symlink is never followed (the write uses a fresh exclusive name)', async () => {
    const dir = freshDir();
    await mkdir(dir, { recursive: true });
    const victim = path.join(base, `victim-${n}`);
    await writeFile(victim, 'precious');
    await symlink(victim, path.join(dir, SESSION_INDEX_FILE));
    const index = new SessionIndex({ dir });
    // The link points at a non-index file: set aside (the link is renamed, its target untouched).
    expect(await index.list()).toEqual([]);
    await index.put(entry('batch_DDDDDDDDDD'));
    expect(await readFile(victim, 'utf8')).toBe('precious');
  });

  it('run folders come from the id only: anything else is refused', () => {
    const index = new SessionIndex({ dir: '/data' });
    expect(index.runDir('batch_AAAAAAAAAA')).toBe(path.join('/data', 'runs', 'batch_AAAAAAAAAA'));
    expect(() => index.runDir('batch_../../etc/passwd')).toThrow(/not a session id/);
    expect(() => index.runDir('../x')).toThrow(/not a session id/);
  });

  it(`keeps at most ${MAX_SESSIONS} runs, dropping the oldest`, async () => {
    const dir = freshDir();
    const index = new SessionIndex({ dir });
    for (let i = 0; i < MAX_SESSIONS + 3; i++)
      await index.put(entry(`batch_run${String(i).padStart(8, '0')}`, new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString()));
    const list = await index.list();
    expect(list).toHaveLength(MAX_SESSIONS);
    expect(list.at(-1)?.id).toBe('batch_run00000003');
  });
});

describe('a kept run read back from its journal', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'reslens-runrows-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));
  const identity = { model: { name: 'resnet50', sha256: 'a'.repeat(64) }, mode: 'fast', top: 5, labelsSha256: 'b'.repeat(64) };
  const ok = (p: string) => ({ path: p, top: [{ index: 1, label: 'goldfish', prob: 0.9 }], model: 'resnet50', ep: 'cpu', ms: 3 });

  it('restores rows in journal order, leaves out paths outside the folder (a journal from elsewhere), and drops what a resume redoes', async () => {
    const journalFile = journalPathFor(path.join(dir, 'run.jsonl'));
    const journal = await Journal.open(journalFile, { identity, resume: false, restart: false, inputs: ['/photos'] });
    await journal.appendResults([
      { path: '/photos/a.jpg', size: 1, mtimeMs: 1, result: ok('/photos/a.jpg') },
      { path: '/photos/bad.jpg', size: 1, mtimeMs: 1, result: { path: '/photos/bad.jpg', error: { code: 'DECODE_FAILED', message: 'broken' } } },
      { path: '/photos/gone.jpg', size: 1, mtimeMs: 1, result: { path: '/photos/gone.jpg', error: { code: 'FILE_NOT_FOUND', message: 'gone' } } },
      { path: '/etc/shadow', size: 1, mtimeMs: 1, result: ok('/etc/shadow') },
    ]);
    await journal.close();
    const all = await readRunRows(journalFile, '/photos');
    expect(all.results.map((r) => r.path)).toEqual(['/photos/a.jpg', '/photos/bad.jpg', '/photos/gone.jpg']);
    const onlyNew = await readRunRows(journalFile, '/photos', { forResume: { retryFailed: false } });
    expect(onlyNew.results.map((r) => r.path)).toEqual(['/photos/a.jpg', '/photos/bad.jpg']); // transient failures are redone
    const retry = await readRunRows(journalFile, '/photos', { forResume: { retryFailed: true } });
    expect(retry.results.map((r) => r.path)).toEqual(['/photos/a.jpg']);
  });

  it('a deleted run folder is a clear FILE_NOT_FOUND, not a crash', async () => {
    await expect(readRunRows(path.join(dir, 'gone', 'x.jsonl.reslens-journal.jsonl'), '/photos')).rejects.toMatchObject({
      code: 'FILE_NOT_FOUND',
      message: /journal is gone/,
    });
  });
});

describe('the kept Images session', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'reslens-images-session-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));
  const ok = (p: string, id: string, label = 'goldfish'): ImageEntry => ({
    path: p,
    id,
    name: path.basename(p),
    at: '2026-12-01T10:00:00.000Z',
    model: 'resnet50',
    result: { top: [{ index: 1, label, prob: 0.9 }], ep: 'cpu', ms: 12 },
  });

  it('keeps one entry per photo (a reclassification replaces it), at most MAX_IMAGES, and forgets on Clear', async () => {
    const session = new ImagesSession(path.join(dir, 'a', IMAGES_SESSION_FILE));
    await session.add([ok('/p/a.jpg', 'img_aaaaaaaa'), ok('/p/b.jpg', 'img_bbbbbbbb')]);
    await session.add([ok('/p/a.jpg', 'img_aaaaaaaa', 'tench')]);
    const listed = await new ImagesSession(session.file).list();
    expect(listed.map((e) => [e.name, 'top' in e.result ? e.result.top[0].label : ''])).toEqual([
      ['b.jpg', 'goldfish'],
      ['a.jpg', 'tench'],
    ]);
    await session.add(Array.from({ length: MAX_IMAGES + 5 }, (_, i) => ok(`/p/many-${i}.jpg`, `img_many${String(i).padStart(6, '0')}`)));
    expect(await session.list()).toHaveLength(MAX_IMAGES);
    expect(await session.clear(['/p/many-504.jpg'])).toBe(1);
    expect(await session.clear()).toBe(MAX_IMAGES - 1);
    expect(await session.list()).toEqual([]);
  });

  it('a crafted file (bad ids, huge fields, not JSON) is set aside with a note', async () => {
    for (const body of [
      'nope',
      JSON.stringify({ reslens: 'images-session', version: 1, images: [{ ...ok('/etc/shadow', 'img_aaaaaaaa'), id: '../../x' }] }),
      JSON.stringify({ reslens: 'images-session', version: 1, images: [{ ...ok('/p/a.jpg', 'img_aaaaaaaa'), name: 'x'.repeat(5000) }] }),
    ]) {
      const folder = await mkdtemp(path.join(dir, 'bad-'));
      await writeFile(path.join(folder, IMAGES_SESSION_FILE), body);
      const session = new ImagesSession(path.join(folder, IMAGES_SESSION_FILE));
      expect(await session.list()).toEqual([]);
      expect(session.notice).toMatch(/Images session was damaged/);
    }
  });
});
