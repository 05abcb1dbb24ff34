// `reslens doctor` end to end, and the provider-facing parts of `reslens classify` (--ep, --batch
// auto, the backend line, the ep field of results). Real processes; the built-in probe network.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DoctorReport } from '../../src-main/engine/infer/doctor.js';
import { platformProviders } from '../../src-main/engine/infer/providers.js';
import { photoLike } from '../helpers/bad-inputs.js';
import { jsonLines, runCli } from '../helpers/cli.js';
import { ensureFixture } from '../fixtures/generate.js';

describe('reslens doctor', () => {
  let report: DoctorReport;
  beforeAll(async () => {
    const run = await runCli(['doctor', '--json'], { timeoutMs: 300_000 });
    expect(run.code, run.stderr).toBe(0);
    report = JSON.parse(run.stdout) as DoctorReport;
  }, 300_000);

  it('--json prints one JSON object: providers, what loaded and why not, hardware and versions', () => {
    expect(report.providers.map((p) => p.ep)).toEqual(platformProviders());
    const cpu = report.providers.find((p) => p.ep === 'cpu');
    expect(cpu).toMatchObject({ ok: true, status: 'ok', bundled: true, inAuto: true, title: 'CPU' });
    for (const p of report.providers) {
      expect(['ok', 'unavailable', 'failed', 'rejected']).toContain(p.status);
      if (!p.ok) expect(p.reason?.length, p.ep).toBeGreaterThan(5);
      // Every GPU provider that loaded was probed against the CPU and timed.
      if (p.ok && p.ep !== 'cpu')
        expect(p.probe).toMatchObject({ passed: true, top5Equal: expect.any(Boolean), warmMs: expect.any(Number), cpuMs: expect.any(Number) });
    }
    expect(report.selected.request).toBe('auto');
    expect(platformProviders()).toContain(report.selected.ep);
    expect(report.selected.attempts.at(-1)).toMatchObject({ ep: report.selected.ep, ok: true });
    expect(report.backend).toMatch(report.selected.ep === 'cpu' ? /^CPU · \d+ threads?/ : /^GPU · /);
    expect(report.cpu.model.length).toBeGreaterThan(0);
    expect(report.cpu.logicalCores).toBeGreaterThan(0);
    expect(report.versions).toMatchObject({ onnxruntime: '1.29.0', node: process.version, platform: `${process.platform}-${process.arch}` });
    expect(report.versions.libvips).toMatch(/^\d+\.\d+/);
    expect(report.onnxruntime.backends.map((b) => b.name)).toContain('cpu');
    expect(report.probeModel).toMatch(/built-in probe network/);
  });

  it('prints the same as readable text', async () => {
    const run = await runCli(['doctor'], { timeoutMs: 300_000 });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^Backend \(auto\): (CPU|GPU) · /m);
    expect(run.stdout).toMatch(/^Providers \(each forced/m);
    expect(run.stdout).toMatch(/^ {2}CPU +ok /m);
    expect(run.stdout).toMatch(/^Hardware:/m);
    expect(run.stdout).toMatch(/onnxruntime-node 1\.29\.0 · node v\d+/);
  }, 300_000);

  it('exits 1 when a forced provider cannot be used, with the reason as data', async () => {
    const foreign = process.platform === 'win32' ? 'coreml' : 'dml';
    const run = await runCli(['doctor', '--ep', foreign, '--json'], { timeoutMs: 300_000 });
    expect(run.code).toBe(1);
    const forced = JSON.parse(run.stdout) as DoctorReport;
    expect(forced.selected).toMatchObject({ request: foreign, error: { code: 'EP_UNAVAILABLE' } });
    expect(forced.selected.error?.message).toMatch(new RegExp(`'${foreign}' is unavailable: not part of onnxruntime-node`));
    expect(forced.providers.at(-1)).toMatchObject({ ep: foreign, ok: false, status: 'unavailable' });
  }, 300_000);

  it('rejects an unknown provider as a usage error', async () => {
    const run = await runCli(['doctor', '--ep', 'tpu']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/expected one of auto, cpu, cuda, webgpu, dml, coreml/);
  });
});

describe('reslens classify and providers', () => {
  let folder: string;
  let image: string;
  let model: string;
  beforeAll(async () => {
    folder = await mkdtemp(path.join(os.tmpdir(), 'reslens-ep-'));
    image = path.join(folder, 'photo.jpg');
    await writeFile(image, await photoLike(320, 240, 'jpeg'));
    model = await ensureFixture({ depth: 18, bn: 'folded' });
  });
  afterAll(async () => {
    await rm(folder, { recursive: true, force: true });
  });
  const env = () => ({ RESLENS_MODELS_DIR: folder });

  it('--batch defaults to auto, names the backend on stderr, and ep names the provider that ran', async () => {
    const run = await runCli(['classify', image, image, '--model', model, '--json', '--ep', 'cpu'], { env: env() });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/^backend: CPU · \d+ threads?$/m);
    const results = jsonLines<{ ep: string }>(run.stdout);
    expect(results.map((r) => r.ep)).toEqual(['cpu', 'cpu']);
    const help = await runCli(['classify', '--help']);
    expect(help.stdout).toMatch(/--batch <n\|auto>/);
  });

  it('accepts --batch auto or a number, refuses anything else', async () => {
    const ok = await runCli(['classify', image, '--model', model, '--json', '--batch', 'auto'], { env: env() });
    expect(ok.code, ok.stderr).toBe(0);
    for (const bad of ['0', 'big', '2.5']) {
      const run = await runCli(['classify', image, '--model', model, '--batch', bad], { env: env() });
      expect(run.code, bad).toBe(2);
      expect(run.stderr, bad).toMatch(/positive whole number or "auto"/);
    }
  });
});
