// Maps (issue 15) through the engine service, as a host drives it: a second model for compare held
// beside the loaded one (at most two; the loaded one keeps serving), a page of the channel grid, the
// stage fields in features.get, and the HTML report request with a hostile file name.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineEvents, EventName } from '../../src-main/api/contract.js';
import { RequestSchemas } from '../../src-main/api/contract.js';
import { ModelStore } from '../../src-main/engine/model/store.js';
import { EngineService, type ServiceHost } from '../../src-main/service/engine-service.js';
import { ensureFixture } from '../fixtures/generate.js';
import { photoLike } from '../helpers/bad-inputs.js';

describe('maps through the engine service', () => {
  let folder: string;
  let service: EngineService;
  const images = new Map<string, { path: string; name: string }>();
  const host: ServiceHost = {
    resolveImage: (id) => images.get(id),
    resolveFolder: () => undefined,
    emit: <E extends EventName>(_e: E, _p: EngineEvents[E]) => undefined,
  };

  beforeAll(async () => {
    folder = await mkdtemp(path.join(os.tmpdir(), 'reslens-maps-service-'));
    await writeFile(path.join(folder, 'a.jpg'), await photoLike(400, 300, 'jpeg', 1));
    await writeFile(path.join(folder, 'b.jpg'), await photoLike(300, 400, 'jpeg', 2));
    images.set('img_aaaaaaaa', { path: path.join(folder, 'a.jpg'), name: 'a.jpg' });
    images.set('img_bbbbbbbb', { path: path.join(folder, 'b.jpg'), name: '<img src=x onerror=alert(1)>.jpg' });
    const modelsDir = path.join(folder, 'models');
    await new ModelStore(modelsDir).import(await ensureFixture({ depth: 18, bn: 'explicit', seed: 2 }), { name: 'second' });
    await new ModelStore(modelsDir).import(await ensureFixture({ depth: 50, variant: 'v2', bn: 'explicit' }), { name: 'third-v2' });
    service = new EngineService({
      host,
      modelsDir,
      cacheDir: path.join(folder, 'cache'),
      ep: 'cpu',
      initialModel: await ensureFixture({ depth: 18, bn: 'folded' }),
    });
    await service.start();
  }, 180_000);
  afterAll(async () => {
    await service?.dispose();
    await rm(folder, { recursive: true, force: true });
  });

  it("features.get carries each stage's receptive field, note, every channel mean and the maps' value ranges", async () => {
    const value = await service.handle('features.get', { image: 'img_aaaaaaaa' });
    expect(value.stages.map((s) => s.receptiveField?.size)).toEqual([11, 43, 99, 211, 435]);
    expect(value.stages.every((s) => (s.note ?? '').length > 40)).toBe(true);
    for (const s of value.stages) {
      expect(s.channelMeans).toHaveLength(s.shape[0]);
      expect(s.heatmap.max).toBeGreaterThan(s.heatmap.min ?? Infinity);
      // The top channels are the channels with the highest means.
      const sorted = [...(s.channelMeans ?? [])].sort((a, b) => b - a);
      expect(s.topChannels[0].meanActivation).toBeCloseTo(sorted[0], 4);
    }
    expect(service.status().model?.architecture?.rows.map((r) => r.receptiveField)).toEqual([11, 43, 99, 211, 435]);
  });

  it('compare: a second model runs beside the loaded one, which keeps serving; a third replaces the second', async () => {
    const loaded = service.status().model?.name;
    const mine = await service.handle('features.get', { image: 'img_aaaaaaaa' });
    const other = await service.handle('features.get', { image: 'img_aaaaaaaa', model: 'second' });
    expect(other.stages).toHaveLength(5);
    expect(other.top.map((t) => t.index)).not.toEqual(mine.top.map((t) => t.index));
    expect(service.status().model?.name).toBe(loaded);
    // The loaded model's channel maps still come from its cache (the compared run did not replace it).
    const [channel] = await service.handle('features.channels', { image: 'img_aaaaaaaa', stage: 'layer4', channels: [mine.stages[4].topChannels[0].channel] });
    expect(Array.from(channel.data)).toEqual(Array.from(mine.stages[4].topChannels[0].map.data));
    const v2 = await service.handle('features.get', { image: 'img_aaaaaaaa', model: 'third-v2' });
    expect(v2.stages[4].shape).toEqual([2048, 7, 7]);
    expect(v2.stages.map((s) => s.receptiveField?.size)).toEqual([11, 35, 91, 267, 427]);
    // Not a model of the catalog or the store: refused without touching the disk.
    await expect(service.handle('features.get', { image: 'img_aaaaaaaa', model: 'nope' })).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
    expect(service.status().model?.name).toBe(loaded);
  }, 180_000);

  it('features.channels: a page of any channels, in the order asked; bounded by the contract', async () => {
    const value = await service.handle('features.get', { image: 'img_aaaaaaaa' });
    const channels = [5, 0, 63, 17];
    const maps = await service.handle('features.channels', { image: 'img_aaaaaaaa', stage: 'layer1', channels });
    expect(maps).toHaveLength(4);
    for (const m of maps) expect([m.width, m.height]).toEqual([56, 56]);
    expect(Array.from(maps[0].data)).not.toEqual(Array.from(maps[1].data));
    expect(value.stages[1].shape[0]).toBe(64);
    await expect(service.handle('features.channels', { image: 'img_aaaaaaaa', stage: 'layer1', channels: [64] })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    expect(
      RequestSchemas['features.channels'].safeParse({ image: 'img_aaaaaaaa', stage: 'layer1', channels: Array.from({ length: 65 }, (_, i) => i) }).success,
    ).toBe(false);
  }, 120_000);

  it('features.report: one HTML file, the hostile file name escaped, a safe download name', async () => {
    const report = await service.handle('features.report', { image: 'img_bbbbbbbb' });
    expect(report.fileName).toMatch(/^[A-Za-z0-9._-]+-report\.html$/);
    const html = new TextDecoder().decode(report.data);
    expect(html).not.toMatch(/<script|<img src=x/i);
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;.jpg');
    expect([...html.matchAll(/<figure class="stage"/g)]).toHaveLength(5);
  }, 120_000);
});
