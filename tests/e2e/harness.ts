// Starts browser mode (src-main/server/main.ts) as a child process and reads its one stdout line.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ModelStore } from '../../src-main/engine/model/store.js';
import { type FixtureSpec, ensureFixture } from '../fixtures/generate.js';
import { REPO_ROOT } from '../helpers/testdata.js';

export const FIXTURE_MODEL_SPEC: FixtureSpec = { depth: 18, bn: 'folded' };
/** A second model for the model picker (imported into the store as SECOND_MODEL_NAME). */
export const SECOND_MODEL_SPEC: FixtureSpec = { depth: 18, bn: 'explicit', seed: 2 };
export const SECOND_MODEL_NAME = 'resnet18-second';
export const READY_LINE = /^ResLens running at (http:\/\/127\.0\.0\.1:(\d+)\/\?token=([A-Za-z0-9_-]+))$/m;

export interface RunningServer {
  url: string;
  origin: string;
  port: number;
  token: string;
  root: string;
  dataDir: string;
  stdout: () => string;
  stderr: () => string;
  stop(): Promise<void>;
}

export interface ServerOptions {
  /** Model name or path (default: the ResNet-18 fixture). */
  model?: string;
  /** --root; a fresh temp folder when not given (removed on stop). */
  root?: string;
  modelsDir?: string;
  args?: string[];
  timeoutMs?: number;
  /** --data-dir (kept batch runs, thumbnails); a fresh temp folder when not given (removed on stop). */
  dataDir?: string;
  /** Models imported into the (temp) store before start: they show in the model picker. */
  importModels?: { file: string; name: string }[];
}

export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const model = options.model ?? (await ensureFixture(FIXTURE_MODEL_SPEC));
  const ownRoot = options.root === undefined;
  const root = options.root ?? (await mkdtemp(path.join(os.tmpdir(), 'reslens-e2e-root-')));
  const modelsDir = options.modelsDir ?? (await mkdtemp(path.join(os.tmpdir(), 'reslens-e2e-models-')));
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'reslens-e2e-data-')));
  for (const m of options.importModels ?? []) await new ModelStore(modelsDir).import(m.file, { name: m.name });
  const args = [
    '--import',
    'tsx',
    // RESLENS_E2E_SERVER: another entry with the same options and stdout line (e.g. a build under test).
    process.env.RESLENS_E2E_SERVER ?? path.join(REPO_ROOT, 'src-main', 'server', 'main.ts'),
    '--model',
    model,
    '--port',
    '0',
    '--root',
    root,
    '--models-dir',
    modelsDir,
    '--static',
    path.join(REPO_ROOT, 'dist', 'renderer'),
    '--exit-with-stdin',
    '--data-dir',
    dataDir,
    ...(options.args ?? []),
  ];
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, CI: process.env.CI ?? '' },
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (err += chunk));
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`server not ready after ${options.timeoutMs ?? 180_000} ms\nstdout: ${out}\nstderr: ${err}`)),
      options.timeoutMs ?? 180_000,
    );
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      const m = READY_LINE.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before it was ready\nstdout: ${out}\nstderr: ${err}`));
    });
  });
  const port = Number(match[2]);
  return {
    url: match[1],
    origin: `http://127.0.0.1:${port}`,
    port,
    token: match[3],
    root,
    dataDir,
    stdout: () => out,
    stderr: () => err,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.stdin.end();
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      if (ownRoot) await rm(root, { recursive: true, force: true });
      if (!options.modelsDir) await rm(modelsDir, { recursive: true, force: true });
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Opens the app on `server` with an empty Images view: the kept Images session (issue 15) of an
 * earlier test on the same server is forgotten first, so one test's cards never appear in the next.
 */
export async function openFresh(page: { goto(url: string): Promise<unknown> }, server: RunningServer): Promise<void> {
  await rm(path.join(server.dataDir, 'sessions', 'images-session.json'), { force: true });
  await page.goto(server.url);
}
