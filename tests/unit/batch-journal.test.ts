// The batch journal: durable appends, repair of a torn tail, and refusal to mix different runs.
import { appendFile, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Journal, type JournalIdentity, isTransientError, journalPathFor, readJournal } from '../../src-main/engine/batch/journal.js';
import { EngineError } from '../../src-main/engine/core/errors.js';

const identity: JournalIdentity = { model: { name: 'resnet50', sha256: 'a'.repeat(64) }, mode: 'fast', top: 5, labelsSha256: 'b'.repeat(64) };
const okResult = (p: string) => ({ path: p, top: [{ index: 1, label: 'goldfish', prob: 0.9 }], model: 'resnet50', ep: 'cpu', ms: 3 });

describe('batch journal', () => {
  let dir: string;
  let n = 0;
  const fresh = () => path.join(dir, `j${n++}.jsonl`);
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'reslens-journal-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('sits beside the export', () => {
    expect(journalPathFor('/x/results.csv')).toBe('/x/results.csv.reslens-journal.jsonl');
  });

  it('writes a header, sessions and results, and reads back the latest record per path', async () => {
    const file = fresh();
    const journal = await Journal.open(file, { identity, resume: false, restart: false, inputs: ['/photos'] });
    await journal.appendResults([
      { path: '/photos/a.jpg', size: 10, mtimeMs: 5, result: okResult('/photos/a.jpg') },
      { path: '/photos/b.jpg', size: 11, mtimeMs: 6, result: { path: '/photos/b.jpg', error: { code: 'FILE_NOT_FOUND', message: 'gone' } } },
    ]);
    await journal.appendResults([{ path: '/photos/b.jpg', size: 12, mtimeMs: 7, result: okResult('/photos/b.jpg') }]);
    await journal.appendOrganized([{ path: '/photos/a.jpg', to: '/dest/goldfish/a.jpg' }]);
    await journal.close();
    const state = await readJournal(file);
    expect(state.header).toMatchObject({ reslens: 'batch-journal', version: 1, ...identity });
    expect(state.sessions).toBe(1);
    expect(state.finished).toBe(false);
    expect([...state.entries.keys()]).toEqual(['/photos/a.jpg', '/photos/b.jpg']);
    expect(state.entries.get('/photos/b.jpg')).toMatchObject({ size: 12, mtimeMs: 7 });
    expect(state.entries.get('/photos/b.jpg')?.error).toBeUndefined();
    expect(state.organized.get('/photos/a.jpg')).toBe('/dest/goldfish/a.jpg');
    const lines = (await readFile(file, 'utf8')).split('\n');
    expect(lines.at(-1)).toBe(''); // every line complete
  });

  it('on resume, cuts a torn last line and skips damaged ones', async () => {
    const file = fresh();
    const journal = await Journal.open(file, { identity, resume: false, restart: false, inputs: [] });
    await journal.appendResults([{ path: '/a.jpg', size: 1, mtimeMs: 1, result: okResult('/a.jpg') }]);
    await journal.close();
    await appendFile(file, 'garbage that is not json\n{"path":"/b.jpg","size":2,"mtimeMs":2,"result":{"path":"/b.jpg","top":[');
    const sizeBefore = (await stat(file)).size;
    const resumed = await Journal.open(file, { identity, resume: true, restart: false, inputs: [] });
    expect(resumed.previous.truncatedBytes).toBeGreaterThan(10);
    expect(resumed.previous.damagedLines).toBe(1);
    expect([...resumed.previous.entries.keys()]).toEqual(['/a.jpg']);
    await resumed.appendResults([{ path: '/b.jpg', size: 2, mtimeMs: 2, result: okResult('/b.jpg') }]);
    await resumed.close();
    expect((await stat(file)).size).toBeLessThan(sizeBefore + 400);
    const state = await readJournal(file);
    expect([...state.entries.keys()]).toEqual(['/a.jpg', '/b.jpg']);
    expect(state.sessions).toBe(2);
  });

  it('refuses to resume a journal of another model, mode, top-k or label set', async () => {
    const file = fresh();
    await (await Journal.open(file, { identity, resume: false, restart: false, inputs: [] })).close();
    const attempts: [Partial<JournalIdentity>, RegExp][] = [
      [{ model: { name: 'resnet152', sha256: 'c'.repeat(64) } }, /written with model resnet50.*not resnet152/],
      [{ mode: 'exact' }, /fast mode, not exact.*drop --exact|add --exact/],
      [{ top: 3 }, /top 5 classes.*--top 5/],
      [{ labelsSha256: 'd'.repeat(64) }, /different label set/],
    ];
    for (const [change, message] of attempts) {
      const error = await Journal.open(file, { identity: { ...identity, ...change }, resume: true, restart: false, inputs: [] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EngineError);
      expect((error as EngineError).code).toBe('INVALID_ARGUMENT');
      expect((error as EngineError).message).toMatch(message);
      expect((error as EngineError).message).not.toMatch(/--restart/); // the way out is the hint's: hosts name their flags or buttons
      expect((error as EngineError).hint).toEqual({ actions: ['restart'], file });
    }
  });

  it('will not silently start over an unfinished run; --restart keeps the old journal aside', async () => {
    const file = fresh();
    const first = await Journal.open(file, { identity, resume: false, restart: false, inputs: [] });
    await first.appendResults([{ path: '/a.jpg', size: 1, mtimeMs: 1, result: okResult('/a.jpg') }]);
    await first.close();
    const refused = await Journal.open(file, { identity, resume: false, restart: false, inputs: [] }).catch((e: unknown) => e);
    expect((refused as EngineError).message).toMatch(/unfinished run \(1 images done\)/);
    expect((refused as EngineError).hint).toEqual({ actions: ['resume', 'restart'], file });
    const restarted = await Journal.open(file, { identity, resume: false, restart: true, inputs: [] });
    expect(restarted.previous.entries.size).toBe(0);
    await restarted.markFinished({ done: 0, failed: 0 });
    await restarted.close();
    expect((await readJournal(`${file}.old`)).entries.size).toBe(1);
    // A finished run is replaced by a new run without --resume.
    const again = await Journal.open(file, { identity, resume: false, restart: false, inputs: [] });
    expect(again.previous.entries.size).toBe(0);
    await again.close();
  });

  it('treats only transient failures as worth retrying', () => {
    expect(isTransientError('FILE_NOT_FOUND')).toBe(true);
    expect(isTransientError('INFERENCE_FAILED')).toBe(true);
    expect(isTransientError('DECODE_FAILED')).toBe(false);
    expect(isTransientError('NOT_AN_IMAGE')).toBe(false);
  });

  it('refuses a file that is not a journal', async () => {
    const file = fresh();
    await appendFile(file, '{"hello":"world"}\n');
    await expect(Journal.open(file, { identity, resume: true, restart: false, inputs: [] })).rejects.toThrow(/not a ResLens batch journal/);
  });
});
