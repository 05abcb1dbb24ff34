// bin/huge-pages.js: on Linux with THP in "madvise" mode, a model-loading command runs in a child
// whose glibc malloc asks for huge pages; the parent mirrors its exit and forwards signals, and a
// child whose parent is killed does not live on. (Speed is measured in `npm run bench:startup`.)
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shouldRelaunch } from '../../bin/huge-pages.js';
import { ensureFixture } from '../fixtures/generate.js';
import { photoLike } from '../helpers/bad-inputs.js';
import { REPO_ROOT } from '../helpers/testdata.js';

const BIN = path.join(REPO_ROOT, 'bin', 'reslens.js');
const thpMode = (): string => {
  try {
    return /\[(\w+)\]/.exec(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'))?.[1] ?? 'none';
  } catch {
    return 'none';
  }
};
const relaunches = process.platform === 'linux' && thpMode() === 'madvise';

let dir: string;
let model: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'reslens-huge-pages-'));
  model = await ensureFixture({ depth: 18, bn: 'folded' });
}, 120_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A preload that appends "pid ppid GLIBC_TUNABLES" of every process it runs in to $RECORD. */
async function tunablesRecorder(): Promise<string> {
  const file = path.join(dir, 'record-tunables.mjs');
  await writeFile(
    file,
    "import { appendFileSync } from 'node:fs';\nappendFileSync(process.env.RECORD, `${process.pid} ${process.ppid} ${process.env.GLIBC_TUNABLES ?? '-'}\\n`);\n",
  );
  return pathToFileURL(file).href;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

describe('which commands run with huge pages', () => {
  const linux = { platform: 'linux' as const, env: {} };
  it('never for help, version, commands that handle signals themselves, or when told not to', () => {
    for (const argv of [['--help'], ['classify', '--help'], ['-V'], ['batch', 'x'], ['worker'], ['lesion', 'x'], ['models', 'pull', 'resnet50'], []]) {
      expect(shouldRelaunch(argv, linux.env, linux.platform), argv.join(' ')).toBe(false);
    }
    expect(shouldRelaunch(['classify', 'a.jpg'], { RESLENS_HUGE_PAGES: '0' }, 'linux')).toBe(false);
    expect(shouldRelaunch(['classify', 'a.jpg'], { GLIBC_TUNABLES: 'glibc.malloc.hugetlb=0' }, 'linux')).toBe(false);
    expect(shouldRelaunch(['classify', 'a.jpg'], { RESLENS_HUGE_PAGES_CHILD: '1' }, 'linux')).toBe(false);
    expect(shouldRelaunch(['classify', 'a.jpg'], {}, 'darwin')).toBe(false);
    expect(shouldRelaunch(['classify', 'a.jpg'], {}, 'win32')).toBe(false);
  });

  it.runIf(relaunches)('classify and features do, on this machine (THP madvise), global options before the command included', () => {
    expect(shouldRelaunch(['classify', 'a.jpg'], {}, 'linux')).toBe(true);
    expect(shouldRelaunch(['--models-dir', '/tmp/m', 'features', 'a.jpg'], {}, 'linux')).toBe(true);
  });
});

describe.runIf(relaunches)('reslens classify in a child with huge pages', () => {
  it("the child has the tunable, the output and exit code are the child's", async () => {
    const record = path.join(dir, 'tunables.txt');
    const photo = path.join(dir, 'photo.jpg');
    await writeFile(photo, await photoLike(320, 240, 'jpeg', 5));
    const env: NodeJS.ProcessEnv = { ...process.env, RECORD: record };
    delete env.GLIBC_TUNABLES;
    const ok = spawnSync(process.execPath, ['--import', await tunablesRecorder(), BIN, 'classify', photo, '--model', model, '--ep', 'cpu', '--json'], {
      cwd: REPO_ROOT,
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(ok.status, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout.trim()).top).toHaveLength(5);
    const lines = readFileSync(record, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' '));
    expect(lines).toHaveLength(2);
    const [parent, child] = lines;
    expect(child[1]).toBe(parent[0]);
    expect(parent[2]).toBe('-');
    expect(child[2]).toContain('glibc.malloc.hugetlb=1');

    // A failed item: exit 1 from the child, through the parent.
    const failed = spawnSync(process.execPath, [BIN, 'classify', path.join(dir, 'missing.jpg'), '--model', model, '--ep', 'cpu', '--json'], {
      cwd: REPO_ROOT,
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(failed.status).toBe(1);
    expect(JSON.parse(failed.stdout.trim()).error.code).toBe('FILE_NOT_FOUND');
  }, 180_000);

  /** Starts classify over a folder big enough to still be running when signalled; returns parent and child pids. */
  async function startLongRun(): Promise<{ parent: ChildProcess; childPid: number }> {
    const folder = path.join(dir, `many-${Math.random().toString(36).slice(2)}`);
    await mkdir(folder);
    const photo = await photoLike(640, 480, 'jpeg', 7);
    await Promise.all(Array.from({ length: 400 }, (_, i) => writeFile(path.join(folder, `p${i}.jpg`), photo)));
    const record = path.join(folder, '..', `${path.basename(folder)}.txt`);
    const parent = spawn(
      process.execPath,
      ['--import', await tunablesRecorder(), BIN, 'classify', folder, '--model', model, '--ep', 'cpu', '--json', '--batch', '1'],
      { cwd: REPO_ROOT, env: { ...process.env, RECORD: record, GLIBC_TUNABLES: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let firstResult = false;
    parent.stdout?.on('data', () => (firstResult = true));
    expect(await waitFor(() => firstResult, 90_000)).toBe(true);
    const lines = readFileSync(record, 'utf8').trim().split('\n');
    return { parent, childPid: Number(lines[1].split(' ')[0]) };
  }

  it('SIGTERM to the parent ends the child and the parent ends by the same signal', async () => {
    const { parent, childPid } = await startLongRun();
    expect(alive(childPid)).toBe(true);
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => parent.once('exit', (code, signal) => resolve({ code, signal })));
    parent.kill('SIGTERM');
    expect(await exited).toEqual({ code: null, signal: 'SIGTERM' });
    expect(await waitFor(() => !alive(childPid), 10_000)).toBe(true);
  }, 180_000);

  it('a parent killed outright (SIGKILL) leaves no orphan classifying on', async () => {
    const { parent, childPid } = await startLongRun();
    parent.kill('SIGKILL');
    expect(await waitFor(() => !alive(childPid), 10_000)).toBe(true);
    expect(existsSync(`/proc/${childPid}`)).toBe(false);
  }, 180_000);
});
