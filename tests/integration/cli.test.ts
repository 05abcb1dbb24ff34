// The `reslens` command line end to end: real processes, real files, the reference model.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeBadInputSet, type BadInputCase } from '../helpers/bad-inputs.js';
import { jsonLines, runCli } from '../helpers/cli.js';
import { REFERENCE_MODEL, hasTestdata, referenceImages } from '../helpers/testdata.js';
import { ensureFixture } from '../fixtures/generate.js';

interface JsonResult {
  path: string;
  top?: { index: number; label: string; prob: number }[];
  model?: string;
  ep?: string;
  ms?: number;
  error?: { code: string; message: string };
}

describe('reslens CLI', () => {
  let folder: string;
  let modelsDir: string;
  let cases: BadInputCase[];
  let model: string;
  beforeAll(async () => {
    folder = await mkdtemp(path.join(os.tmpdir(), 'reslens-cli-'));
    modelsDir = await mkdtemp(path.join(os.tmpdir(), 'reslens-store-'));
    cases = await writeBadInputSet(path.join(folder, 'set'));
    model = hasTestdata ? REFERENCE_MODEL : await ensureFixture({ depth: 18, bn: 'folded' });
  });
  afterAll(async () => {
    await rm(folder, { recursive: true, force: true });
    await rm(modelsDir, { recursive: true, force: true });
  });
  const env = () => ({ RESLENS_MODELS_DIR: modelsDir });

  it('prints help for every command and exits 0', async () => {
    for (const args of [['--help'], ['classify', '--help'], ['inspect', '--help'], ['models', '--help'], ['models', 'pull', '--help']]) {
      const run = await runCli(args, { env: env() });
      expect(run.code, args.join(' ')).toBe(0);
      expect(run.stdout, args.join(' ')).toMatch(/Usage: reslens/);
    }
  });

  it('exits 2 on usage errors', async () => {
    for (const args of [
      ['classify'],
      ['classify', 'x.jpg', '--top', '0'],
      ['classify', 'x.jpg', '--ep', 'quantum'],
      ['frobnicate'],
      ['classify', 'x.jpg', '--no-such-flag'],
    ]) {
      const run = await runCli(args, { env: env() });
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr.length, args.join(' ')).toBeGreaterThan(0);
    }
  });

  it.runIf(hasTestdata)('classifies the reference images as JSON lines with the contract fields', async () => {
    const images = referenceImages().slice(0, 4);
    const run = await runCli(['classify', ...images.map((i) => i.file), '--model', model, '--json', '--batch', '2'], { env: env() });
    expect(run.code).toBe(0);
    const results = jsonLines<JsonResult>(run.stdout);
    expect(results.map((r) => r.path)).toEqual(images.map((i) => i.file));
    for (const [i, result] of results.entries()) {
      expect(Object.keys(result).sort()).toEqual(['ep', 'model', 'ms', 'path', 'timings', 'top']);
      // Decode and inference apart (issue 15): together they are the image's ms.
      const timings = (result as { timings?: { waitMs: number; decodeMs: number; inferenceMs: number } }).timings;
      expect(timings?.decodeMs).toBeGreaterThan(0);
      expect(timings?.inferenceMs).toBeGreaterThan(0);
      expect(timings?.waitMs).toBeGreaterThanOrEqual(0);
      expect(Math.abs((timings?.decodeMs ?? 0) + (timings?.inferenceMs ?? 0) - (result.ms ?? 0))).toBeLessThanOrEqual(0.2);
      expect(result.top?.map((t) => t.index)).toEqual(images[i].top5);
      expect(result.top?.every((t) => typeof t.label === 'string' && t.label.length > 0 && t.prob > 0 && t.prob < 1)).toBe(true);
      expect(result.model).toBe('resnet50');
      expect(result.ep).toBe('cpu');
      expect(result.ms).toBeGreaterThan(0);
    }
  });

  it('gives every bad input its own error and still classifies the rest (exit 1)', async () => {
    const set = path.join(folder, 'set');
    const explicit = cases.filter((c) => c.expect !== 'folder').map((c) => path.join(set, c.file));
    const run = await runCli(['classify', ...explicit, path.join(set, 'loop'), '--model', model, '--json', '--top', '3'], { env: env(), timeoutMs: 180_000 });
    expect(run.code).toBe(1);
    const results = jsonLines<JsonResult>(run.stdout);
    const byPath = new Map(results.map((r) => [r.path, r]));
    for (const c of cases.filter((x) => x.expect !== 'folder')) {
      const result = byPath.get(path.join(set, c.file));
      expect(result, c.file).toBeDefined();
      if (c.expect === 'ok') {
        expect(result?.error, c.file).toBeUndefined();
        expect(result?.top, c.file).toHaveLength(3);
      } else {
        expect(result?.error?.code, c.file).toBe(c.expect);
        expect(result?.error?.message.length, c.file).toBeGreaterThan(5);
      }
    }
    // The loop folder: its one image classified once, the self-referencing link reported.
    expect(results.filter((r) => r.path.endsWith('nested.png'))).toHaveLength(1);
    expect(results.find((r) => r.path.endsWith('self.jpg'))?.error?.code).toBe('SYMLINK_LOOP');
    expect(results).toHaveLength(explicit.length + 2);
  });

  it('prints a readable table by default', async () => {
    const run = await runCli(['classify', path.join(folder, 'set', 'good.jpg'), '--model', model, '--top', '2'], { env: env() });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/good\.jpg/);
    expect(run.stdout).toMatch(/ 1\. .+%/);
    expect(run.stdout).toMatch(/ 2\. .+%/);
    expect(run.stderr).toMatch(/1 classified, 0 failed/);
  });

  it('inspect --json reports input, classes, opset, params and MACs', async () => {
    const run = await runCli(['inspect', model, '--json'], { env: env() });
    expect(run.code).toBe(0);
    const info = JSON.parse(run.stdout) as { input: { name: string; shape: unknown[] }; classes: number; opset: number; params: number; macs: number };
    expect(info.input.shape.slice(1)).toEqual([3, 224, 224]);
    expect(info.classes).toBe(1000);
    expect(info.opset).toBeGreaterThanOrEqual(7);
    expect(info.params).toBeGreaterThan(1e7);
    expect(info.macs).toBeGreaterThan(1e9);
  });

  it('refuses a broken model with a clear error and exit 1', async () => {
    const bad = path.join(folder, 'broken.onnx');
    await writeFile(bad, 'definitely not protobuf');
    const inspect = await runCli(['inspect', bad], { env: env() });
    expect(inspect.code).toBe(1);
    expect(inspect.stderr).toMatch(/INVALID_MODEL/);
    const classify = await runCli(['classify', path.join(folder, 'set', 'good.jpg'), '--model', bad, '--json'], { env: env() });
    expect(classify.code).toBe(1);
    expect(classify.stderr).toMatch(/INVALID_MODEL.*not an ONNX/);
    expect(classify.stdout).toBe('');
  });

  it('a forced provider that cannot load is a clear error', async () => {
    const run = await runCli(['classify', path.join(folder, 'set', 'good.jpg'), '--model', model, '--ep', 'dml'], { env: env() });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/EP_UNAVAILABLE.*dml/);
  });
});
