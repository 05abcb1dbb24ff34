// The shipped catalog and labels, the store folder choice, and progress formatting.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import envPaths from 'env-paths';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineError } from '../../src-main/engine/core/errors.js';
import {
  CatalogSchema,
  TORCHVISION_PREPROCESSING,
  findCatalogEntry,
  findPackageFile,
  loadCatalogSync,
  parseCatalog,
  preprocessingOf,
} from '../../src-main/engine/model/catalog.js';
import { checkLabelCount, defaultLabelsPath, labelCountProblem, loadLabels, parseLabels } from '../../src-main/engine/model/labels.js';
import { normaliseModelName } from '../../src-main/engine/model/model-name.js';
import { nameFromFile } from '../../src-main/engine/model/store-import.js';
import { ModelStore } from '../../src-main/engine/model/store.js';
import { createProgress, formatBytes, formatDuration } from '../../src-main/cli/progress.js';

const catalogFile = findPackageFile(path.join('models', 'catalog.json'));
const raw = JSON.parse(readFileSync(catalogFile, 'utf8')) as { models: Record<string, unknown>[] };

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof EngineError ? error.code : 'not an EngineError';
  }
  return undefined;
}

describe('models/catalog.json', () => {
  const catalog = loadCatalogSync(catalogFile);

  it('passes the schema', () => {
    expect(CatalogSchema.safeParse(raw).success).toBe(true);
  });

  it('has ResNet-50 and ResNet-152, v1 and v2, with https URLs, SHA-256 and sizes', () => {
    const keys = catalog.models.map((m) => `${m.architecture}/${m.variant}`);
    expect(keys).toEqual(expect.arrayContaining(['resnet50/v1', 'resnet50/v2', 'resnet152/v1', 'resnet152/v2']));
    for (const entry of catalog.models) {
      expect(entry.url).toMatch(/^https:\/\//);
      expect(entry.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(entry.bytes).toBeGreaterThan(10_000_000);
      expect(entry.classes).toBe(1000);
      expect(entry.labels).toBe('imagenet1k');
      expect(entry.input.name).not.toBe('');
      expect(entry.license).not.toBe('');
    }
    expect(new Set(catalog.models.map((m) => m.sha256)).size).toBe(catalog.models.length);
  });

  it('maps the short names: resnet50 → resnet50-v1, resnet152 → resnet152-v1 (case-insensitive)', () => {
    expect(findCatalogEntry(catalog, 'resnet50')?.name).toBe('resnet50-v1');
    expect(findCatalogEntry(catalog, 'ResNet152')?.name).toBe('resnet152-v1');
    expect(findCatalogEntry(catalog, 'resnet50-v2-7')?.name).toBe('resnet50-v2');
    expect(findCatalogEntry(catalog, 'resnet51')).toBeUndefined();
  });

  it('gives every entry torchvision preprocessing unless overridden', () => {
    for (const entry of catalog.models) expect(preprocessingOf(catalog, entry)).toEqual(TORCHVISION_PREPROCESSING);
    const custom = parseCatalog({ ...raw, models: [{ ...raw.models[0], preprocessing: { crop: 299, resizeShorter: 342 } }] });
    expect(preprocessingOf(custom, custom.models[0])).toMatchObject({ crop: 299, resizeShorter: 342, mean: [0.485, 0.456, 0.406], layout: 'NCHW' });
  });

  it('rejects bad entries with INVALID_ARGUMENT naming the problem', () => {
    const entry = raw.models[0];
    const bad = (patch: Record<string, unknown>) => () => parseCatalog({ ...raw, models: [{ ...entry, ...patch }] });
    expect(codeOf(bad({ url: 'http://example.com/m.onnx' }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(bad({ url: 'ftp://example.com/m.onnx' }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(bad({ sha256: 'abc123' }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(bad({ sha256: 'A'.repeat(64) }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(bad({ bytes: 0 }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(bad({ bytes: -5 }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(bad({ name: '../evil' }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => parseCatalog({ ...raw, models: [entry, { ...entry, name: 'other', aliases: ['resnet50'] }] }))).toBe('INVALID_ARGUMENT');
    // Plain http is allowed to this machine only (tests, local mirrors).
    expect(codeOf(bad({ url: 'http://127.0.0.1:8080/m.onnx' }))).toBeUndefined();
    try {
      bad({ sha256: 'abc' })();
    } catch (error) {
      expect((error as Error).message).toMatch(/models\.0\.sha256/);
    }
  });
});

describe('labels', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'reslens-labels-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('ships the 1000 ImageNet labels, found from any working directory', async () => {
    const cwd = process.cwd();
    try {
      process.chdir(os.tmpdir());
      const labels = await loadLabels();
      expect(labels).toHaveLength(1000);
      expect(labels[0]).toBe('tench');
      expect(labels[999]).toBe('toilet tissue');
    } finally {
      process.chdir(cwd);
    }
    expect(readFileSync(defaultLabelsPath(), 'utf8')).toBe(readFileSync(path.join(path.dirname(catalogFile), 'imagenet_classes.txt'), 'utf8'));
  });

  it('reads one label per line (CRLF, BOM, trailing blank lines) or a JSON array', async () => {
    expect(parseLabels('\uFEFFcat\r\ndog\r\n\r\n')).toEqual(['cat', 'dog']);
    expect(parseLabels('["cat", "dog", "hot dog"]')).toEqual(['cat', 'dog', 'hot dog']);
    const file = path.join(dir, 'three.txt');
    await writeFile(file, 'a\nb\nc\n');
    expect(await loadLabels(file)).toEqual(['a', 'b', 'c']);
  });

  it('refuses empty, unreadable or ambiguous label files with LABELS_INVALID', async () => {
    const cases: [string, string][] = [
      ['empty.txt', ''],
      ['blank.txt', '  \n\n'],
      ['hole.txt', 'a\n\nb\n'],
      ['json.txt', '[1, 2]'],
      ['broken.json', '["a", '],
      ['emptyarray.json', '[]'],
    ];
    for (const [name, content] of cases) {
      const file = path.join(dir, name);
      await writeFile(file, content);
      await expect(loadLabels(file), name).rejects.toMatchObject({ code: 'LABELS_INVALID' });
    }
    await expect(loadLabels(path.join(dir, 'missing.txt'))).rejects.toMatchObject({ code: 'LABELS_INVALID', message: expect.stringContaining('not found') });
  });

  it('checks the label count against the class count', () => {
    expect(labelCountProblem(['a', 'b'], 2)).toBeNull();
    expect(labelCountProblem(['a', 'b'], 3)).toMatch(/3 output classes.*2/);
    expect(codeOf(() => checkLabelCount(['a'], 2, 'x.txt'))).toBe('LABELS_INVALID');
  });
});

describe('store folder', () => {
  it('prefers the option, then RESLENS_MODELS_DIR, then the per-user data folder', () => {
    expect(ModelStore.defaultDir({ dir: '/tmp/a', env: { RESLENS_MODELS_DIR: '/tmp/b' } })).toBe(path.resolve('/tmp/a'));
    expect(ModelStore.defaultDir({ env: { RESLENS_MODELS_DIR: '/tmp/b' } })).toBe(path.resolve('/tmp/b'));
    expect(ModelStore.defaultDir({ env: { RESLENS_MODELS_DIR: '' } })).toBe(path.join(envPaths('reslens', { suffix: '' }).data, 'models'));
    expect(ModelStore.defaultDir({ env: {} })).toBe(path.join(envPaths('reslens', { suffix: '' }).data, 'models'));
  });

  it('normalises names and refuses ones that could leave the folder', () => {
    expect(normaliseModelName('My-Model_2')).toBe('my-model_2');
    for (const bad of ['../x', 'a/b', '.hidden', '', 'x.onnx', 'a b', 'x'.repeat(65)]) {
      expect(
        codeOf(() => normaliseModelName(bad)),
        bad,
      ).toBe('INVALID_ARGUMENT');
    }
    expect(nameFromFile('/some/where/ResNet 50 (fine-tuned).onnx')).toBe('resnet-50-fine-tuned');
    expect(nameFromFile('/x/__.onnx')).toBe('model');
  });
});

describe('progress', () => {
  it('formats bytes and durations', () => {
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(102_583_340)).toBe('102.6 MB');
    expect(formatDuration(5)).toBe('5s');
    expect(formatDuration(125)).toBe('2m05s');
    expect(formatDuration(Number.POSITIVE_INFINITY)).toBe('--');
  });

  it('prints occasional plain lines (percent, amount, speed, ETA) when stderr is not a terminal', () => {
    const stream = new PassThrough() as unknown as NodeJS.WriteStream;
    let out = '';
    (stream as unknown as PassThrough).on('data', (chunk: Buffer) => (out += chunk.toString()));
    let t = 0;
    const progress = createProgress('resnet50-v1', { units: 'bytes', stream, tty: false, now: () => t });
    for (let i = 0; i <= 100; i++) {
      t = i * 100;
      progress.update({ done: i * 1_000_000, total: 100_000_000, rate: 10_000_000 });
    }
    progress.stop();
    const lines = out.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(4);
    expect(lines.length).toBeLessThanOrEqual(8);
    expect(lines[0]).toMatch(/^resnet50-v1: 0% 0 B \/ 100\.0 MB at 10\.0 MB\/s, ETA 10s$/);
    expect(lines.at(-1)).toMatch(/^resnet50-v1: 100% 100\.0 MB \/ 100\.0 MB at 10\.0 MB\/s$/);
  });
});
