// onnxruntime 1.29's telemetry (engine/infer/ort-telemetry.ts): a `reslens classify` leaves no
// telemetry cache behind, while the same run with the user's own ORT_DISABLE_TELEMETRY=0 does —
// which shows the check can see it, and that the user's choice is respected.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFixture } from '../fixtures/generate.js';
import { runCli } from '../helpers/cli.js';
import { photoLike } from '../helpers/bad-inputs.js';

let dir: string;
let model: string;
let photo: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'reslens-ort-telemetry-'));
  model = await ensureFixture({ depth: 18, bn: 'folded' });
  photo = path.join(dir, 'photo.jpg');
  await writeFile(photo, await photoLike(320, 240, 'jpeg', 3));
}, 120_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs classify with a home folder of its own; returns whether onnxruntime wrote its telemetry cache there. */
async function telemetryCacheAfterClassify(name: string, disable: string | undefined): Promise<boolean> {
  const home = path.join(dir, name);
  await mkdir(home);
  const run = await runCli(['classify', photo, '--model', model, '--ep', 'cpu', '--json'], {
    // CI unset: onnxruntime keeps its telemetry off by itself where CI is set (with CI=true the
    // user-choice run wrote no cache either), which would hide the control this test relies on.
    env: { HOME: home, XDG_CACHE_HOME: path.join(home, '.cache'), ORT_DISABLE_TELEMETRY: disable, CI: undefined },
  });
  expect(run.code, run.stderr).toBe(0);
  return existsSync(path.join(home, '.cache', 'Microsoft', 'DeveloperTools', '.onnxruntime'));
}

describe("onnxruntime's telemetry", () => {
  it('is off for reslens, unless the user turns it on', async () => {
    expect(await telemetryCacheAfterClassify('default', undefined)).toBe(false);
    expect(await telemetryCacheAfterClassify('user-choice', '0')).toBe(true);
  }, 120_000);
});
