// The engine service behind the contract, driven as a host drives it: ids for granted files only,
// real models, real images, events collected.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineEvents, EventName } from '../../src-main/api/contract.js';
import { EngineService, type ServiceHost } from '../../src-main/service/engine-service.js';
import { ensureFixture } from '../fixtures/generate.js';
import { photoLike } from '../helpers/bad-inputs.js';

describe('engine service', () => {
  let folder: string;
  let service: EngineService;
  let model: string;
  const events: { event: EventName; payload: unknown }[] = [];
  const images = new Map<string, { path: string; name: string }>();
  const host: ServiceHost = {
    resolveImage: (id) => images.get(id),
    resolveFolder: () => undefined,
    emit: <E extends EventName>(event: E, payload: EngineEvents[E]) => {
      events.push({ event, payload });
    },
  };

  beforeAll(async () => {
    folder = await mkdtemp(path.join(os.tmpdir(), 'reslens-service-'));
    await writeFile(path.join(folder, 'a.jpg'), await photoLike(400, 300, 'jpeg', 1));
    await writeFile(path.join(folder, 'b.png'), await photoLike(300, 400, 'png', 2));
    await writeFile(path.join(folder, 'bad.jpg'), 'not an image');
    images.set('img_aaaaaaaa', { path: path.join(folder, 'a.jpg'), name: 'a.jpg' });
    images.set('img_bbbbbbbb', { path: path.join(folder, 'b.png'), name: 'b.png' });
    images.set('img_badbadba', { path: path.join(folder, 'bad.jpg'), name: 'bad.jpg' });
    // The host was started with this file (serve --model PATH): the UI may select it by that name.
    model = await ensureFixture({ depth: 18, bn: 'folded' });
    service = new EngineService({ host, modelsDir: path.join(folder, 'models'), cacheDir: path.join(folder, 'cache'), ep: 'cpu', initialModel: model });
  });
  afterAll(async () => {
    await service?.dispose();
    await rm(folder, { recursive: true, force: true });
  });

  it('reports no model before one is selected, and refuses work politely', async () => {
    const status = await service.handle('engine.status', {});
    expect(status.model).toBeNull();
    expect(status.versions.onnxruntime).toMatch(/^\d+\.\d+/);
    await expect(service.handle('images.classify', { images: ['img_aaaaaaaa'] })).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
  });

  it('loads a model by path: status has the backend, architecture, and says it is not pretrained', async () => {
    // Hosts validate names against the contract; a host may load a file it was started with (serve --model PATH).
    const status = await service.handle('models.select', { name: model });
    expect(status.model).toMatchObject({ classes: 1000, ep: 'cpu', pretrained: false, featuresAvailable: true });
    expect(status.model?.epLabel).toMatch(/^CPU · \d+ threads/);
    expect(status.model?.architecture?.name).toBe('ResNet-18');
    // The same note the CLI prints (engine/opening/open-model.ts), for the app to show.
    expect(status.model?.notes).toEqual([expect.stringMatching(/is not a catalog model: its outputs are shown with ImageNet class names/)]);
    expect(events.some((e) => e.event === 'engine.status')).toBe(true);
    expect(events.some((e) => e.event === 'model.progress')).toBe(true);
  });

  it('classifies granted images, bad ones as error values, in order', async () => {
    const results = await service.handle('images.classify', { images: ['img_aaaaaaaa', 'img_badbadba', 'img_bbbbbbbb', 'img_unknown1'], top: 3 });
    expect(results.map((r) => r.name)).toEqual(['a.jpg', 'bad.jpg', 'b.png', 'img_unknown1']);
    expect('top' in results[0].result && results[0].result.top).toHaveLength(3);
    expect('error' in results[1].result && results[1].result.error.code).toBe('NOT_AN_IMAGE');
    expect('error' in results[3].result && results[3].result.error.code).toBe('INVALID_ARGUMENT');
  });

  it('makes thumbnails in the engine', async () => {
    const thumb = await service.handle('images.thumbnail', { image: 'img_bbbbbbbb', size: 128 });
    expect([thumb.width, thumb.height]).toEqual([96, 128]);
    expect(Array.from(thumb.jpeg.subarray(0, 3))).toEqual([0xff, 0xd8, 0xff]);
  });

  it('returns compact feature maps and full channels on demand', async () => {
    const features = await service.handle('features.get', { image: 'img_aaaaaaaa', channels: 4, classes: 3 });
    expect(features.stages.map((s) => [s.name, s.heatmap.width])).toEqual([
      ['stem', 56],
      ['layer1', 56],
      ['layer2', 28],
      ['layer3', 14],
      ['layer4', 7],
    ]);
    expect(features.stages[2].heatmap.data).toBeInstanceOf(Float32Array);
    expect(features.stages[2].topChannels).toHaveLength(4);
    expect(features.cams).toHaveLength(3);
    expect(Array.from(features.crop.jpeg.subarray(0, 2))).toEqual([0xff, 0xd8]);
    // A ranked channel comes back as features.get gave it; any other is fetched with one full run.
    const ranked = features.stages[3].topChannels[1];
    const again = await service.handle('features.channel', { image: 'img_aaaaaaaa', stage: 'layer3', channel: ranked.channel });
    expect(Array.from(again.data)).toEqual(Array.from(ranked.map.data));
    const other = [...Array(features.stages[3].shape[0]).keys()].find((c) => !features.stages[3].topChannels.some((t) => t.channel === c)) as number;
    const channel = await service.handle('features.channel', { image: 'img_aaaaaaaa', stage: 'layer3', channel: other });
    expect([channel.width, channel.height, channel.data.length]).toEqual([14, 14, 196]);
    expect(Math.max(...channel.data)).toBeLessThanOrEqual(1);
    await expect(service.handle('features.channel', { image: 'img_aaaaaaaa', stage: 'layer3', channel: features.stages[3].shape[0] })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(service.handle('features.channel', { image: 'img_bbbbbbbb', stage: 'layer3', channel: 5 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });
});

describe('engine service batches', () => {
  let folder: string;
  let service: EngineService;
  const events: { event: EventName; payload: unknown }[] = [];
  const folders = new Map<string, string>();

  beforeAll(async () => {
    folder = await mkdtemp(path.join(os.tmpdir(), 'reslens-service-batch-'));
    const photos = path.join(folder, 'photos');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(path.join(photos, 'nested'), { recursive: true });
    for (let i = 0; i < 6; i++) await writeFile(path.join(photos, i % 2 ? 'nested' : '', `p${i}.jpg`), await photoLike(320, 240, 'jpeg', i + 10));
    await writeFile(path.join(photos, 'broken.jpg'), 'not a photo');
    folders.set('dir_photos00', photos);
    folders.set('dir_sorted00', path.join(folder, 'sorted'));
    // The page may select the model the host was started with (serve --model PATH), not any path.
    const model = await ensureFixture({ depth: 18, bn: 'folded' });
    service = new EngineService({
      host: { resolveImage: () => undefined, resolveFolder: (id) => folders.get(id), emit: (event, payload) => void events.push({ event, payload }) },
      modelsDir: path.join(folder, 'models'),
      cacheDir: path.join(folder, 'cache'),
      ep: 'cpu',
      initialModel: model,
    });
    await service.handle('models.select', { name: model });
  });
  afterAll(async () => {
    await service?.dispose();
    await rm(folder, { recursive: true, force: true });
  });

  it('runs a folder to completion with progress and row events, then exports and organises', async () => {
    const started = await service.handle('batch.start', { folder: 'dir_photos00', top: 3 });
    expect(started.state).toBe('running');
    const deadline = Date.now() + 60_000;
    let summary = started;
    while (summary.state === 'running' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      summary = await service.handle('batch.control', { batch: started.batch, action: 'resume' });
    }
    expect(summary).toMatchObject({ state: 'done', done: 7, failed: 1, total: 7 });
    const streamed = events.filter((e) => e.event === 'batch.rows').flatMap((e) => (e.payload as { rows: unknown[] }).rows);
    expect(streamed).toHaveLength(7);
    const { rows, total } = await service.handle('batch.rows', { batch: started.batch, offset: 0, limit: 100 });
    expect(total).toBe(7);
    expect(rows.find((r) => r.path.endsWith('broken.jpg'))?.error?.code).toBe('NOT_AN_IMAGE');
    expect(rows.filter((r) => r.top?.length === 3)).toHaveLength(6);

    const csv = await service.handle('batch.export', { batch: started.batch, format: 'csv' });
    expect(csv.fileName).toBe('reslens-photos.csv');
    expect(Buffer.from(csv.data).toString('utf8').trim().split('\n')).toHaveLength(8); // header + 7 files

    const dry = await service.handle('batch.organize', { batch: started.batch, destination: 'dir_sorted00', minProb: 0, mode: 'copy', dryRun: true });
    expect(dry.planned).toBe(6);
    const done = await service.handle('batch.organize', { batch: started.batch, destination: 'dir_sorted00', minProb: 0, mode: 'copy', dryRun: false });
    expect(done.copied).toBe(6);
    const { readdir } = await import('node:fs/promises');
    const labelled = await readdir(path.join(folder, 'sorted'), { recursive: true });
    expect(labelled.filter((f) => String(f).endsWith('.jpg'))).toHaveLength(6);
    // Originals stay where they were.
    expect((await readdir(path.join(folder, 'photos'))).sort()).toEqual(['broken.jpg', 'nested', 'p0.jpg', 'p2.jpg', 'p4.jpg']);
  });

  it('refuses folders the host did not grant', async () => {
    await expect(service.handle('batch.start', { folder: 'dir_notgranted' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

describe('engine service: the feature session', () => {
  it('opens in the background after a model loads; a damaged feature graph turns feature maps off in the status before any photo, and classification goes on', async () => {
    const folder = await mkdtemp(path.join(os.tmpdir(), 'reslens-service-features-'));
    const cacheDir = path.join(folder, 'cache');
    const model = await ensureFixture({ depth: 18, bn: 'folded' });
    await writeFile(path.join(folder, 'a.jpg'), await photoLike(320, 240, 'jpeg', 5));
    const events: { event: EventName; payload: unknown }[] = [];
    const host: ServiceHost = {
      resolveImage: (id) => (id === 'img_aaaaaaaa' ? { path: path.join(folder, 'a.jpg'), name: 'a.jpg' } : undefined),
      resolveFolder: () => undefined,
      emit: <E extends EventName>(event: E, payload: EngineEvents[E]) => {
        events.push({ event, payload });
      },
    };
    const open = () => new EngineService({ host, modelsDir: path.join(folder, 'models'), cacheDir, ep: 'cpu', initialModel: model });
    const { readdir, truncate } = await import('node:fs/promises');
    const optimized = async () => (await readdir(path.join(cacheDir, 'optimized')).catch(() => [] as string[])).filter((f) => f.endsWith('.ort'));
    const until = async (what: string, done: () => boolean | Promise<boolean>) => {
      for (let waited = 0; waited < 60_000; waited += 100) {
        if (await done()) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`timed out waiting for ${what}`);
    };
    try {
      const first = open();
      try {
        await first.handle('models.select', { name: model });
        // No photo asked for: the feature session opens anyway, so its optimised graph is cached
        // beside the classification session's.
        await until('the feature session to open', async () => (await optimized()).length === 2);
      } finally {
        await first.dispose();
      }
      const [edited] = (await readdir(path.join(cacheDir, 'exposed'))).filter((f) => f.endsWith('.onnx'));
      await truncate(path.join(cacheDir, 'exposed', edited), 1000);
      for (const file of await optimized()) await rm(path.join(cacheDir, 'optimized', file));

      events.length = 0;
      const second = open();
      try {
        const loaded = await second.handle('models.select', { name: model });
        expect(loaded.model?.featuresAvailable).toBe(true); // known only once the feature session is tried
        const off = (e: { event: EventName; payload: unknown }) =>
          e.event === 'engine.status' && (e.payload as { model?: { featuresAvailable?: boolean } }).model?.featuresAvailable === false;
        await until('a status saying feature maps are off', () => events.some(off));
        const status = events.find(off)?.payload as { model: { featuresError?: string } };
        expect(status.model.featuresError).toMatch(/feature maps unavailable: onnxruntime refused the graph with stage outputs/);
        const [result] = await second.handle('images.classify', { images: ['img_aaaaaaaa'], top: 3 });
        expect('top' in result.result && result.result.top).toHaveLength(3);
        await expect(second.handle('features.get', { image: 'img_aaaaaaaa', channels: 4, classes: 3 })).rejects.toMatchObject({ code: 'UNSUPPORTED_MODEL' });
      } finally {
        await second.dispose();
      }
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});
