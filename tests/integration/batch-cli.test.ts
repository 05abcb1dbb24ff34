// `reslens batch` end to end as a user runs it: the real CLI in a child process, killed with SIGKILL
// midway and resumed; the export must then hold every image exactly once, with nothing reported
// before the kill lost or changed.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFixture } from '../fixtures/generate.js';
import { photoLike } from '../helpers/bad-inputs.js';
import { runCli } from '../helpers/cli.js';
import { csvRecords } from '../helpers/csv.js';
import { REPO_ROOT } from '../helpers/testdata.js';
import { main } from '../../src-main/cli/main.js';

interface JournalLine {
  path?: string;
  result?: { path: string; top?: { index: number; label: string; prob: number }[]; error?: { code: string } };
}

async function journalResults(file: string): Promise<Map<string, NonNullable<JournalLine['result']>>> {
  const text = existsSync(file) ? await readFile(file, 'utf8') : '';
  const results = new Map<string, NonNullable<JournalLine['result']>>();
  for (const line of text.split('\n')) {
    try {
      const value = JSON.parse(line) as JournalLine;
      if (value.path && value.result) results.set(value.path, value.result);
    } catch {
      // a torn last line is possible after SIGKILL
    }
  }
  return results;
}

/** Starts `reslens batch`, waits until the journal holds `after` results, then SIGKILLs it. */
async function killMidway(
  args: string[],
  journal: string,
  after: number,
  env: NodeJS.ProcessEnv,
): Promise<{ signal: NodeJS.Signals | null; code: number | null; journaled: number }> {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'reslens.js'), 'batch', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<{ signal: NodeJS.Signals | null; code: number | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  const deadline = Date.now() + 60_000;
  let journaled = 0;
  while (Date.now() < deadline && child.exitCode === null) {
    journaled = (await journalResults(journal)).size;
    if (journaled >= after) {
      child.kill('SIGKILL');
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const result = await exited;
  if (result.signal !== 'SIGKILL') throw new Error(`batch was not killed midway (exit ${result.code}); stderr: ${stderr}`);
  return { ...result, journaled };
}

describe('reslens batch (CLI)', () => {
  let root: string;
  let photos: string;
  let model: string;
  const files: string[] = [];
  const env = () => ({ RESLENS_MODELS_DIR: path.join(root, 'store') });

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'reslens-batch-cli-'));
    photos = path.join(root, 'photos');
    const folders = ['2023/summer', '2023/winter', '2024', 'unsorted/ünïcödé 写真'];
    for (let i = 0; i < 80; i++) {
      const folder = path.join(photos, folders[i % folders.length]);
      await mkdir(folder, { recursive: true });
      const name = i % 10 === 3 ? `IMG ${i}, "copy".jpg` : `IMG_${String(i).padStart(4, '0')}.jpg`;
      const file = path.join(folder, name);
      await writeFile(file, await photoLike(320, 240, 'jpeg', i + 1));
      files.push(file);
    }
    model = await ensureFixture({ depth: 18, bn: 'folded' });
  });
  afterAll(async () => rm(root, { recursive: true, force: true }));

  it('exits 2 on usage errors, before loading anything', async () => {
    // In process (the same main() the binary runs): these never reach the model.
    const stderr = process.stderr.write;
    let errors = '';
    process.stderr.write = ((chunk: string) => {
      errors += chunk;
      return true;
    }) as typeof process.stderr.write;
    try {
      for (const args of [
        ['batch', photos],
        ['batch', photos, '--out', path.join(root, 'x.txt')],
        ['batch', photos, '--out', path.join(root, 'x.csv'), '--min-prob', '0.5'],
        ['batch', photos, '--out', path.join(root, 'x.csv'), '--organize', path.join(root, 'd'), '--min-prob', '2'],
        ['batch', photos, '--out', path.join(root, 'x.csv'), '--resume', '--restart'],
      ]) {
        errors = '';
        expect(await main(args), args.join(' ')).toBe(2);
        expect(errors.length, args.join(' ')).toBeGreaterThan(0);
      }
    } finally {
      process.stderr.write = stderr;
    }
    const help = await runCli(['batch', '--help'], { env: env() });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--resume/);
  });

  it('survives SIGKILL midway: --resume finishes with every image exactly once and nothing reported lost', async () => {
    const out = path.join(root, 'run1', 'results.csv');
    const journal = `${out}.reslens-journal.jsonl`;
    const args = [photos, '--model', model, '--out', out, '--batch', '4'];
    const killed = await killMidway(args, journal, 12, env());
    const before = await journalResults(journal);
    expect(before.size).toBeGreaterThanOrEqual(12);
    expect(before.size).toBeLessThan(files.length);
    expect(existsSync(out)).toBe(false); // the CSV is written at the end; the journal holds the work so far
    expect(killed.journaled).toBeGreaterThanOrEqual(12);

    // Without --resume the unfinished run is not silently thrown away.
    const refused = await runCli(['batch', ...args], { env: env() });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/unfinished run.*--resume/);

    const resumed = await runCli(['batch', ...args, '--resume'], { env: env(), timeoutMs: 120_000 });
    expect(resumed.stderr).toMatch(/done in an earlier run/);
    expect(resumed.code).toBe(0);
    const rows = csvRecords(await readFile(out, 'utf8'));
    expect(rows.map((r) => r.path).sort()).toEqual([...files].sort());
    expect(rows.filter((r) => r.error_code !== '')).toEqual([]);
    for (const [file, result] of before) {
      const row = rows.find((r) => r.path === file);
      expect(row?.top1_index, file).toBe(String(result.top?.[0].index));
      expect(row?.top1_prob, file).toBe(String(result.top?.[0].prob));
    }
    // The resumed session classified only the rest.
    const journalText = await readFile(journal, 'utf8');
    const resultLines = journalText.split('\n').filter((l) => l.includes('"result"'));
    expect(resultLines.length).toBeLessThanOrEqual(files.length + 4); // at most a batch in flight redone
  });

  it('.jsonl grows as results arrive and ends with each image once after a kill and --resume', async () => {
    const out = path.join(root, 'run2', 'results.jsonl');
    const journal = `${out}.reslens-journal.jsonl`;
    const subset = path.join(photos, '2023');
    const expected = files.filter((f) => f.startsWith(`${subset}${path.sep}`));
    const args = [subset, '--model', model, '--out', out, '--batch', '2', '--top', '3'];
    await killMidway(args, journal, 6, env());
    // Appended as produced: complete lines only, each one already in the journal (reported after the sync).
    const partial = (await readFile(out, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { path: string });
    const journaled = await journalResults(journal);
    expect(partial.length).toBeGreaterThan(0);
    for (const line of partial) expect(journaled.has(line.path)).toBe(true);

    const resumed = await runCli(['batch', ...args, '--resume'], { env: env() });
    expect(resumed.code).toBe(0);
    const lines = (await readFile(out, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.path).sort()).toEqual([...expected].sort());
    for (const line of lines) {
      expect(Object.keys(line)).toEqual(['path', 'top', 'model', 'ep', 'ms']);
      expect(line.top).toHaveLength(3);
    }
  });
});
