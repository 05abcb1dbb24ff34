// Start-up: the CLI runs from its esbuild bundle, and a command loads only what it needs. Proven
// with the native libraries the process really loaded (process.report at exit), not by reading
// the bundle: `--help` must load neither onnxruntime nor sharp (libvips), while `classify` loads
// both (so the check can see them). Times are measured in `npm run bench:startup`, not here.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFixture } from '../fixtures/generate.js';
import { photoLike } from '../helpers/bad-inputs.js';
import { REPO_ROOT } from '../helpers/testdata.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'reslens-startup-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function run(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string; native: string[] } {
  const record = path.join(dir, `native-${Math.random().toString(36).slice(2)}.txt`);
  const preload = pathToFileURL(path.join(REPO_ROOT, 'tests', 'helpers', 'record-shared-objects.mjs')).href;
  const result = spawnSync(process.execPath, ['--import', preload, path.join(REPO_ROOT, 'bin', 'reslens.js'), ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env, RESLENS_SHARED_OBJECTS_FILE: record },
    timeout: 120_000,
  });
  const native = existsSync(record) ? readFileSync(record, 'utf8').split('\n').filter(Boolean) : [];
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, native };
}

const loadsOnnxruntime = (native: string[]): boolean => native.some((f) => /onnxruntime/.test(f));
const loadsSharp = (native: string[]): boolean => native.some((f) => /libvips|sharp-/.test(f));

describe('reslens start-up', () => {
  it("--help (and a command's --help) loads neither onnxruntime nor sharp", () => {
    for (const args of [['--help'], ['classify', '--help'], ['quantize', '--help'], ['report', '--help']]) {
      const result = run(args);
      expect(result.status, result.stderr).toBe(0);
      expect(result.stdout).toContain('Usage: reslens');
      expect(result.native.length, 'the recorder saw the process exit').toBeGreaterThan(0);
      expect(loadsOnnxruntime(result.native), `${args.join(' ')} loaded onnxruntime`).toBe(false);
      expect(loadsSharp(result.native), `${args.join(' ')} loaded sharp`).toBe(false);
    }
  });

  it('classify loads both (the check can see them) and runs from the bundle', async () => {
    const model = await ensureFixture({ depth: 18, bn: 'folded' });
    const photo = path.join(dir, 'photo.jpg');
    await writeFile(photo, await photoLike(320, 240, 'jpeg', 3));
    const result = run(['classify', photo, '--model', model, '--ep', 'cpu', '--json']);
    expect(result.status, result.stderr).toBe(0);
    expect(loadsOnnxruntime(result.native)).toBe(true);
    expect(loadsSharp(result.native)).toBe(true);
    expect(JSON.parse(result.stdout.trim()).top).toHaveLength(5);
    // The bundle it ran from lists its sources for the freshness check.
    const info = JSON.parse(readFileSync(path.join(REPO_ROOT, 'dist', 'node', 'cli', 'build-info.json'), 'utf8')) as { sources: Record<string, unknown> };
    expect(Object.keys(info.sources)).toContain('src-main/cli/main.ts');
  }, 120_000);

  it('RESLENS_FROM_SOURCE=1 runs the TypeScript sources through tsx, with the same help', () => {
    const built = run(['--help']);
    const source = run(['--help'], { RESLENS_FROM_SOURCE: '1' });
    expect(source.status, source.stderr).toBe(0);
    expect(source.stdout).toBe(built.stdout);
  });
});
