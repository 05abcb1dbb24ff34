// Issue 14 #4: browser mode's cleanup. The server runs as `npm run serve` does now (plain
// `node --import tsx`, no wrapper that SIGKILLs it), is stopped with SIGTERM while it holds an upload
// and a batch's files, and must leave nothing behind; an orphaned server (its parent killed) stops on
// its own; and the leftovers of a run that died (SIGKILL) are removed at the next start.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { FolderListing } from '../../src-main/api/contract.js';
import { RUN_DIR_PREFIX, processAlive } from '../../src-main/engine/core/temp-dirs.js';
import { encodeMessage } from '../../src-main/api/codec.js';
import { ensureFixture } from '../fixtures/generate.js';
import { photoLike } from '../helpers/bad-inputs.js';
import { REPO_ROOT } from '../helpers/testdata.js';

let dir: string;
let model: string;
const MAIN = path.join(REPO_ROOT, 'src-main', 'server', 'main.ts');

async function runDirsOf(pid: number): Promise<string[]> {
  const found: string[] = [];
  for (const name of await readdir(os.tmpdir())) {
    if (!name.startsWith(RUN_DIR_PREFIX)) continue;
    const owner = await readFile(path.join(os.tmpdir(), name, '.reslens-owner'), 'utf8').catch(() => '');
    if (Number(owner.trim()) === pid) found.push(name);
  }
  return found;
}

function serverArgs(): string[] {
  return [
    '--import',
    'tsx',
    MAIN,
    '--model',
    model,
    '--ep',
    'cpu',
    '--port',
    '0',
    '--root',
    path.join(dir, 'root'),
    '--models-dir',
    path.join(dir, 'models'),
    '--static',
    path.join(dir, 'static'),
    '--data-dir',
    path.join(dir, 'data'),
  ];
}

function readyUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`not ready: ${err}`)), 120_000);
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const match = /ResLens running at (\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
  });
}

async function useIt(url: string): Promise<void> {
  const { origin, searchParams } = new URL(url);
  const token = searchParams.get('token') ?? '';
  const headers = { 'x-reslens-token': token };
  const upload = await fetch(`${origin}/api/upload?name=a.jpg`, { method: 'POST', body: await photoLike(64, 64, 'jpeg', 1), headers });
  expect(upload.status).toBe(201);
  const listing = (await (await fetch(`${origin}/api/folders`, { headers })).json()) as FolderListing;
  const ws = new WebSocket(`${origin.replace('http', 'ws')}/api/ws?token=${token}`);
  await new Promise((resolve) => ws.once('open', resolve));
  const answered = new Promise((resolve) => ws.once('message', resolve));
  ws.send(encodeMessage({ kind: 'request', id: 1, method: 'batch.start', params: { folder: listing.current.folder } }));
  await answered;
  ws.close();
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code))));

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'reslens-harden-serve-'));
  await mkdir(path.join(dir, 'root'), { recursive: true });
  for (let i = 0; i < 3; i++) await writeFile(path.join(dir, 'root', `p${i}.jpg`), await photoLike(96, 64, 'jpeg', i + 1));
  await mkdir(path.join(dir, 'static'));
  await writeFile(path.join(dir, 'static', 'index.html'), '<!doctype html>');
  model = await ensureFixture({ depth: 18, bn: 'folded' });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('#4 browser-mode cleanup', () => {
  it('SIGTERM mid-use leaves no uploads or batch files; a dead run’s leftovers go at the next start', async () => {
    // A run that was SIGKILLed: its folder and owner file remain, its pid is gone.
    const dead = spawn(process.execPath, ['-e', '0']);
    await exited(dead);
    const leftover = path.join(os.tmpdir(), `${RUN_DIR_PREFIX}uploads-deadrun${dead.pid}`);
    await mkdir(leftover, { recursive: true });
    await writeFile(path.join(leftover, '.reslens-owner'), `${dead.pid}\n`);
    await writeFile(path.join(leftover, 'big.jpg'), Buffer.alloc(1024));
    // A live run's folder (this test process) must be left alone.
    const live = path.join(os.tmpdir(), `${RUN_DIR_PREFIX}uploads-liverun${process.pid}`);
    await mkdir(live, { recursive: true });
    await writeFile(path.join(live, '.reslens-owner'), `${process.pid}\n`);

    const child = spawn(process.execPath, serverArgs(), { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const url = await readyUrl(child);
      expect(existsSync(leftover)).toBe(false);
      expect(existsSync(live)).toBe(true);
      await useIt(url);
      // The upload's private temp folder; the batch's journal is a kept run in the data folder (issue 15).
      expect((await runDirsOf(child.pid as number)).length).toBe(1);
      const keptRuns = path.join(dir, 'data', 'sessions', 'runs');
      expect(await readdir(keptRuns)).toHaveLength(1);
      child.kill('SIGTERM');
      expect(await exited(child)).toBe(0);
      expect(await runDirsOf(child.pid as number)).toEqual([]);
      // What the user chose to keep survives the stop; only temporary files go.
      expect(await readdir(keptRuns)).toHaveLength(1);
    } finally {
      child.kill('SIGKILL');
      await rm(live, { recursive: true, force: true });
    }
  });

  it('an orphaned server (its parent was killed) stops and cleans up on its own', async () => {
    const command = [process.execPath, ...serverArgs()].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
    const shell = spawn('sh', ['-c', `${command} & echo "pid $!"; wait`], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let pid = 0;
    shell.stdout?.on('data', (d: Buffer) => {
      const match = /pid (\d+)/.exec(d.toString());
      if (match) pid = Number(match[1]);
    });
    const url = await readyUrl(shell);
    expect(pid).toBeGreaterThan(0);
    await useIt(url);
    shell.kill('SIGKILL');
    for (let i = 0; i < 100 && processAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
    try {
      expect(processAlive(pid)).toBe(false);
      expect(await runDirsOf(pid)).toEqual([]);
    } finally {
      if (processAlive(pid)) process.kill(pid, 'SIGKILL');
    }
  });
});
