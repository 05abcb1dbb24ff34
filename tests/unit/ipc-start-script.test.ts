// `npm start` where the Electron binary cannot be had: one clear message that points to browser
// mode, a non-zero exit, no stack trace, and nothing built or launched.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findElectronBinary } from '../../scripts/electron-binary.js';
import { closedPort } from '../helpers/file-server.js';
import { REPO_ROOT } from '../helpers/testdata.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'reslens-start-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function npmStart(env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['start'], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      shell: process.platform === 'win32',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function expectOneClearMessage(run: { code: number | null; stdout: string; stderr: string }, reason: RegExp): void {
  expect(run.code).not.toBe(0);
  const output = `${run.stdout}\n${run.stderr}`;
  const messages = output.split('\n').filter((l) => l.startsWith('ResLens: cannot start the desktop app'));
  expect(messages).toHaveLength(1);
  expect(messages[0]).toMatch(reason);
  expect(messages[0]).toMatch(/Use the browser mode instead: npm run serve$/);
  // No stack trace, and nothing was built (the check comes first).
  expect(output).not.toMatch(/^\s+at .+[(:]\d+/m);
  expect(output).not.toMatch(/Error:/);
  expect(output).not.toMatch(/built dist\/app/);
}

describe('npm start without an Electron binary', () => {
  it('ELECTRON_OVERRIDE_DIST_PATH pointing at an empty folder (no download attempted)', async () => {
    const run = await npmStart({ ELECTRON_OVERRIDE_DIST_PATH: dir });
    expectOneClearMessage(run, /there is no Electron binary at .*\(ELECTRON_OVERRIDE_DIST_PATH\)/);
  });

  // The download path, made deterministic: the mirror is a closed local port and the cache is empty.
  // Only where the binary is missing (elsewhere npm start would launch the real app).
  const present = findElectronBinary();
  it.skipIf(present.ok)(`binary not downloaded and the download fails${present.ok ? ' (skipped: the Electron binary is installed here)' : ''}`, async () => {
    const mirror = `http://127.0.0.1:${await closedPort()}/`;
    const run = await npmStart({ ELECTRON_MIRROR: mirror, npm_config_electron_mirror: mirror, electron_config_cache: dir, ELECTRON_OVERRIDE_DIST_PATH: '' });
    expectOneClearMessage(run, /the Electron \d+\.\d+\.\d+ binary is not here and downloading it from GitHub failed \(.+\)/);
  });
});
