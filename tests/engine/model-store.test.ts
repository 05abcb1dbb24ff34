// ModelStore and resolveModel with real files: pulls from a local HTTP server (catalog injected),
// imports of the reference ResNet-50, verification, removal.
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, open, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EngineError } from '../../src-main/engine/core/errors.js';
import { type Catalog, type CatalogEntry, TORCHVISION_PREPROCESSING, findPackageFile, parseCatalog } from '../../src-main/engine/model/catalog.js';
import type { TransferProgress } from '../../src-main/engine/model/download.js';
import { resolveModel } from '../../src-main/engine/model/resolve.js';
import { ModelStore } from '../../src-main/engine/model/store.js';
import { type FileServer, closedPort, randomSha256, startFileServer, testPayload } from '../helpers/file-server.js';
import { REFERENCE_MODEL, hasTestdata } from '../helpers/testdata.js';

const tiny = testPayload(300_000, 11);
const other = testPayload(200_000, 12);

let server: FileServer;
let dir: string;
let work: string;

const shipped = JSON.parse(readFileSync(findPackageFile(path.join('models', 'catalog.json')), 'utf8')) as { models: Record<string, unknown>[] };

function entry(name: string, patch: Partial<CatalogEntry> & { url: string; bytes: number; sha256: string }): Record<string, unknown> {
  return {
    name,
    aliases: [],
    title: `test model ${name}`,
    architecture: 'resnet50',
    variant: 'test',
    labels: 'imagenet1k',
    classes: 1000,
    input: { name: 'data' },
    license: 'MIT',
    source: { repo: 'test/test', path: `${name}.onnx` },
    ...patch,
  };
}

function testCatalog(): Catalog {
  return parseCatalog({
    version: 1,
    models: [
      entry('tiny-v1', { aliases: ['tiny'], url: server.url('/tiny.onnx'), bytes: tiny.body.length, sha256: tiny.sha256 }),
      entry('flaky-v1', { url: server.url('/flaky.onnx'), bytes: tiny.body.length, sha256: tiny.sha256 }),
      entry('wrong-v1', { url: server.url('/other.onnx'), bytes: other.body.length, sha256: randomSha256() }),
      entry('gone-v1', { url: server.url('/gone.onnx'), bytes: 1000, sha256: randomSha256() }),
      entry('offline-v1', { url: 'http://127.0.0.1:9/never.onnx', bytes: 1000, sha256: randomSha256() }),
      // The shipped ResNet-50 entry, so that importing the real file can be checked against it.
      ...(hasTestdata ? [entry('reference-v1', { url: server.url('/reference.onnx'), bytes: referenceFacts().bytes, sha256: referenceSha() })] : []),
    ],
  });
}

/** The reference model's facts from the testdata manifest. */
function referenceFacts(): { sha256: string; bytes: number } {
  return JSON.parse(readFileSync(path.join(path.dirname(REFERENCE_MODEL), '..', 'manifest.json'), 'utf8')).model as { sha256: string; bytes: number };
}
const referenceSha = (): string => referenceFacts().sha256;

const fast = { maxRetries: 2, retryDelayMs: 5, progressIntervalMs: 0 };
const newStore = (catalog = testCatalog()) => new ModelStore(dir, { catalog, download: fast });

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<EngineError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected ${code}`).toBeInstanceOf(EngineError);
  expect((error as EngineError).code).toBe(code);
  return error as EngineError;
}

/** Every file in the store, recursively, sorted. */
async function storeFiles(): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const found: string[] = [];
  for (const name of await readdir(dir, { recursive: true })) {
    if ((await stat(path.join(dir, name))).isFile()) found.push(name);
  }
  return found.sort();
}

beforeAll(async () => {
  server = await startFileServer({ '/tiny.onnx': tiny.body, '/flaky.onnx': tiny.body, '/other.onnx': other.body });
  work = await mkdtemp(path.join(os.tmpdir(), 'reslens-store-work-'));
});
afterAll(async () => {
  await server.close();
  await rm(work, { recursive: true, force: true });
});
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'reslens-store-'));
  server.reset();
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ModelStore.pull', () => {
  it('downloads with progress events, installs the file with the right SHA-256 and a sidecar', async () => {
    const store = newStore();
    const events: TransferProgress[] = [];
    const result = await store.pull('tiny', { onProgress: (p) => events.push(p) });
    expect(result).toMatchObject({ name: 'tiny-v1', source: 'catalog', downloaded: true, path: path.join(dir, 'tiny-v1.onnx') });
    expect((await readFile(result.path)).equals(tiny.body)).toBe(true);
    expect(events.length).toBeGreaterThan(0);
    expect(events.at(-1)).toMatchObject({ received: tiny.body.length, total: tiny.body.length });

    const sidecar = JSON.parse(await readFile(path.join(dir, 'tiny-v1.json'), 'utf8'));
    expect(sidecar).toMatchObject({ source: 'catalog', sha256: tiny.sha256, bytes: tiny.body.length, importedFrom: null, labelsFile: null });
    expect(sidecar.preprocessing).toEqual(TORCHVISION_PREPROCESSING);
    expect(Date.parse(sidecar.addedAt)).not.toBeNaN();
    expect(await storeFiles()).toEqual(['tiny-v1.json', 'tiny-v1.onnx']);

    const listed = (await store.list()).find((m) => m.name === 'tiny-v1');
    expect(listed).toMatchObject({ installed: true, source: 'catalog', aliases: ['tiny'] });
    expect((await store.list()).find((m) => m.name === 'flaky-v1')).toMatchObject({ installed: false });
    expect(await store.verify('tiny')).toMatchObject({ ok: true, actualSha256: tiny.sha256 });

    // Installed: a second pull makes no request.
    const again = await store.pull('tiny-v1');
    expect(again.downloaded).toBe(false);
    expect(server.requests).toHaveLength(1);
  });

  it('resumes with a Range request after the server drops the connection midway', async () => {
    server.behaviours.set('/flaky.onnx', [{ dropAfter: 120_000 }]);
    const store = newStore();
    const result = await store.pull('flaky-v1');
    expect((await readFile(result.path)).equals(tiny.body)).toBe(true);
    expect(server.requests.map((r) => r.path)).toEqual(['/flaky.onnx', '/flaky.onnx']);
    expect(server.requests[0].range).toBeUndefined();
    expect(server.requests[1].range).toMatch(/^bytes=[1-9]\d*-$/);
    expect(await storeFiles()).toEqual(['flaky-v1.json', 'flaky-v1.onnx']);
  });

  it('resumes the .part file a killed process left behind', async () => {
    const store = newStore();
    await mkdir(path.join(dir, '.partial'), { recursive: true });
    await writeFile(path.join(dir, '.partial', 'tiny-v1.onnx.part'), tiny.body.subarray(0, 100_000));
    // A stale lock from a process that no longer exists is taken over.
    await writeFile(path.join(dir, '.partial', 'tiny-v1.lock'), '999999999');
    const result = await store.pull('tiny');
    expect(result.resumedFrom).toBe(100_000);
    expect(server.requests.map((r) => r.range)).toEqual(['bytes=100000-']);
    expect((await readFile(result.path)).equals(tiny.body)).toBe(true);
    expect(await storeFiles()).toEqual(['tiny-v1.json', 'tiny-v1.onnx']);
  });

  it('works with a server that ignores Range', async () => {
    server.ignoreRangeFor.add('/flaky.onnx');
    server.behaviours.set('/flaky.onnx', [{ dropAfter: 150_000 }]);
    const store = newStore();
    const result = await store.pull('flaky-v1');
    expect(server.requests[1].range).toMatch(/^bytes=/);
    expect((await readFile(result.path)).equals(tiny.body)).toBe(true);
  });

  it('rejects a SHA-256 mismatch: CHECKSUM_MISMATCH, no model and no .part left', async () => {
    const store = newStore();
    const error = await rejectsWith(store.pull('wrong-v1'), 'CHECKSUM_MISMATCH');
    expect(error.message).toContain(other.sha256);
    expect(error.message).toContain(store.catalogEntry('wrong-v1')!.sha256);
    expect(await storeFiles()).toEqual([]);
    expect((await store.list()).find((m) => m.name === 'wrong-v1')?.installed).toBe(false);
  });

  it('turns HTTP 404 into DOWNLOAD_FAILED with no leftovers', async () => {
    const store = newStore();
    const error = await rejectsWith(store.pull('gone-v1'), 'DOWNLOAD_FAILED');
    expect(error.message).toContain('404');
    expect(await storeFiles()).toEqual([]);
  });

  it('says how to import a file instead when the host is unreachable', async () => {
    const port = await closedPort();
    const catalog = parseCatalog({
      version: 1,
      models: [entry('offline-v1', { url: `http://127.0.0.1:${port}/m.onnx`, bytes: 1000, sha256: randomSha256() })],
    });
    const error = await rejectsWith(newStore(catalog).pull('offline-v1'), 'DOWNLOAD_FAILED');
    expect(error.hint).toEqual({ actions: ['import'], model: 'offline-v1' }); // the host words it (reslens models import …, or the app's Import)
    expect(await storeFiles()).toEqual([]);
  });

  it('shares one download between concurrent pulls of a model', async () => {
    const store = newStore();
    const a: TransferProgress[] = [];
    const b: TransferProgress[] = [];
    const [first, second] = await Promise.all([store.pull('tiny', { onProgress: (p) => a.push(p) }), store.pull('tiny-v1', { onProgress: (p) => b.push(p) })]);
    expect(first.path).toBe(second.path);
    expect(server.requests).toHaveLength(1);
    expect(a.length).toBeGreaterThan(0);
    expect(b.at(-1)?.received).toBe(tiny.body.length);
  });

  it('refuses unknown names with MODEL_NOT_FOUND listing the catalog', async () => {
    const error = await rejectsWith(newStore().pull('resnet9000'), 'MODEL_NOT_FOUND');
    expect(error.message).toContain('tiny-v1');
    expect(error.hint?.actions).toEqual(['import']);
  });
});

describe('ModelStore.import, verify, remove', () => {
  it.skipIf(!hasTestdata)('imports the reference ResNet-50, verifies it and resolves it by name', async () => {
    const store = newStore(parseCatalog({ version: 1, models: shipped.models }));
    const imported = await store.import(REFERENCE_MODEL, { name: 'ref50' });
    expect(imported).toMatchObject({ name: 'ref50', source: 'imported', classes: 1000, path: path.join(dir, 'ref50.onnx') });
    expect(imported.sidecar).toMatchObject({
      source: 'imported',
      importedFrom: path.resolve(REFERENCE_MODEL),
      labelsFile: null,
      bytes: (await stat(REFERENCE_MODEL)).size,
    });
    expect(imported.sidecar!.preprocessing).toEqual(TORCHVISION_PREPROCESSING);
    expect(await storeFiles()).toEqual(['ref50.json', 'ref50.onnx']);

    const verified = await store.verify('ref50');
    expect(verified.ok).toBe(true);
    expect(verified.actualSha256).toBe(referenceSha());

    const listed = (await store.list()).find((m) => m.name === 'ref50');
    expect(listed).toMatchObject({ source: 'imported', installed: true, sha256: referenceSha() });

    const resolved = await resolveModel('ref50', { store });
    expect(resolved).toMatchObject({ name: 'ref50', path: imported.path, pretrained: false, source: 'imported' });
    expect(resolved.labels).toHaveLength(1000);

    // The same name again is refused; rm then frees it.
    await rejectsWith(store.import(REFERENCE_MODEL, { name: 'ref50' }), 'INVALID_ARGUMENT');
    await store.remove('ref50');
    expect(await storeFiles()).toEqual([]);
    await rejectsWith(store.remove('ref50'), 'MODEL_NOT_FOUND');
    await rejectsWith(store.verify('ref50'), 'MODEL_NOT_FOUND');
  });

  it.skipIf(!hasTestdata)('detects a damaged file on verify', async () => {
    const store = newStore(parseCatalog({ version: 1, models: shipped.models }));
    const imported = await store.import(REFERENCE_MODEL, { name: 'damaged' });
    const handle = await open(imported.path, 'r+');
    await handle.write(Buffer.from([0xff, 0xee]), 0, 2, 50_000_000);
    await handle.close();
    const verified = await store.verify('damaged');
    expect(verified.ok).toBe(false);
    expect(verified.expectedSha256).toBe(referenceSha());
    expect(verified.actualSha256).not.toBe(referenceSha());
  });

  it.skipIf(!hasTestdata)('installs a file whose SHA-256 is a catalog entry as that catalog model, and refuses a wrong one', async () => {
    const store = newStore();
    const asCatalog = await store.import(REFERENCE_MODEL);
    expect(asCatalog).toMatchObject({ name: 'reference-v1', source: 'catalog' });
    expect((await store.list()).find((m) => m.name === 'reference-v1')?.installed).toBe(true);
    // Now resolving the catalog name needs no download.
    const resolved = await resolveModel('reference-v1', { store });
    expect(resolved).toMatchObject({ source: 'catalog', pretrained: true, path: asCatalog.path });
    expect(server.requests).toHaveLength(0);

    const error = await rejectsWith(store.import(REFERENCE_MODEL, { name: 'tiny' }), 'CHECKSUM_MISMATCH');
    expect(error.message).toContain(tiny.sha256);
  });

  it.skipIf(!hasTestdata)('copies a custom labels file and checks its count against the classes', async () => {
    const store = newStore();
    const wrong = path.join(work, 'three-labels.txt');
    await writeFile(wrong, 'a\nb\nc\n');
    const error = await rejectsWith(store.import(REFERENCE_MODEL, { name: 'custom', labelsFile: wrong }), 'LABELS_INVALID');
    expect(error.message).toMatch(/1000.*3/);
    expect(await storeFiles()).toEqual([]);

    const right = path.join(work, 'numbers.json');
    await writeFile(right, JSON.stringify(Array.from({ length: 1000 }, (_, i) => `class ${i}`)));
    const imported = await store.import(REFERENCE_MODEL, { name: 'custom', labelsFile: right });
    expect(imported.sidecar?.labelsFile).toBe(path.join(dir, 'custom.labels.txt'));
    const resolved = await resolveModel('custom', { store });
    expect(resolved.labels[0]).toBe('class 0');
    expect(resolved.labels[999]).toBe('class 999');
    await store.remove('custom');
    expect(await storeFiles()).toEqual([]);
  });

  it('rejects a file that is not an ONNX model, leaving nothing in the store', async () => {
    const garbage = path.join(work, 'garbage.onnx');
    await writeFile(garbage, 'this is not an ONNX model\n'.repeat(100));
    const error = await rejectsWith(newStore().import(garbage), 'INVALID_MODEL');
    expect(error.message).toMatch(/not an ONNX/i);
    expect(await storeFiles()).toEqual([]);
    await rejectsWith(newStore().import(path.join(work, 'missing.onnx')), 'MODEL_NOT_FOUND');
  });

  it('refuses names that could leave the store folder', async () => {
    await rejectsWith(newStore().import(REFERENCE_MODEL, { name: '../escape' }), 'INVALID_ARGUMENT');
    expect(() => newStore().pathOf('a/b')).toThrow(EngineError);
    expect(newStore().pathOf('tiny')).toBe(path.join(dir, 'tiny-v1.onnx'));
  });

  it('removes a partial download too', async () => {
    const store = newStore();
    await mkdir(path.join(dir, '.partial'), { recursive: true });
    await writeFile(path.join(dir, '.partial', 'flaky-v1.onnx.part'), 'partial');
    await store.remove('flaky-v1');
    expect(await storeFiles()).toEqual([]);
  });
});

describe('resolveModel', () => {
  it('pulls a catalog model on first use, with progress', async () => {
    const store = newStore();
    const events: TransferProgress[] = [];
    const resolved = await resolveModel('tiny', { store, onProgress: (p) => events.push(p) });
    expect(resolved).toMatchObject({ name: 'tiny-v1', path: path.join(dir, 'tiny-v1.onnx'), pretrained: true, source: 'catalog' });
    expect(resolved.catalogEntry?.name).toBe('tiny-v1');
    expect(resolved.preprocessing).toEqual(TORCHVISION_PREPROCESSING);
    expect(resolved.labels).toHaveLength(1000);
    expect(events.length).toBeGreaterThan(0);
    const again = await resolveModel('tiny-v1', { store });
    expect(again.path).toBe(resolved.path);
    expect(server.requests).toHaveLength(1);
  });

  it.skipIf(!hasTestdata)('takes a path to an .onnx file as it is: torchvision preprocessing, ImageNet labels, not known to be pretrained', async () => {
    const resolved = await resolveModel(REFERENCE_MODEL, { store: newStore() });
    expect(resolved).toMatchObject({ name: 'resnet50', path: path.resolve(REFERENCE_MODEL), pretrained: false, source: 'file' });
    expect(resolved.preprocessing).toEqual(TORCHVISION_PREPROCESSING);
    expect(resolved.labels[0]).toBe('tench');
    // A relative path works too, and a labels file overrides ImageNet.
    const labels = path.join(work, 'labels.txt');
    await writeFile(labels, Array.from({ length: 1000 }, (_, i) => `c${i}`).join('\n'));
    const copy = path.join(work, 'copy.onnx');
    await copyFile(REFERENCE_MODEL, copy);
    const relative = path.relative(process.cwd(), copy);
    const withLabels = await resolveModel(relative, { store: newStore(), labelsFile: labels });
    expect(withLabels.path).toBe(copy);
    expect(withLabels.labels[5]).toBe('c5');
  });

  it('reports a missing file or an unknown name with MODEL_NOT_FOUND', async () => {
    await rejectsWith(resolveModel(path.join(work, 'nope.onnx'), { store: newStore() }), 'MODEL_NOT_FOUND');
    const error = await rejectsWith(resolveModel('resnet9000', { store: newStore() }), 'MODEL_NOT_FOUND');
    expect(error.message).toContain('tiny-v1');
    expect(error.message).toContain('tiny');
  });

  it('passes on an offline failure with the way to import instead', async () => {
    const port = await closedPort();
    const catalog = parseCatalog({
      version: 1,
      models: [entry('offline-v1', { aliases: ['offline'], url: `http://127.0.0.1:${port}/m.onnx`, bytes: 1000, sha256: randomSha256() })],
    });
    const error = await rejectsWith(resolveModel('offline', { store: newStore(catalog) }), 'DOWNLOAD_FAILED');
    expect(error.message).toMatch(/cannot reach 127\.0\.0\.1/);
    expect(error.hint).toEqual({ actions: ['import'], model: 'offline-v1' }); // the host words it (reslens models import …, or the app's Import)
  });
});
