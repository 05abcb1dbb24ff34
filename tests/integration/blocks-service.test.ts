// The block requests behind the contract, driven as a host drives them: the block strip with live
// lesions, a lesion study over a folder with progress events and export, and hostile parameters.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EngineEvents, type EventName, type LesionStudyValue, validateRequest } from '../../src-main/api/contract.js';
import { EngineService, type ServiceHost } from '../../src-main/service/engine-service.js';
import { ensureFixture } from '../fixtures/generate.js';
import { photoLike } from '../helpers/bad-inputs.js';

describe('block requests (service)', () => {
  let folder: string;
  let service: EngineService;
  const events: { event: EventName; payload: unknown }[] = [];
  const images = new Map<string, { path: string; name: string }>();
  const folders = new Map<string, string>();
  const host: ServiceHost = {
    resolveImage: (id) => images.get(id),
    resolveFolder: (id) => folders.get(id),
    emit: <E extends EventName>(event: E, payload: EngineEvents[E]) => {
      events.push({ event, payload });
    },
  };

  beforeAll(async () => {
    folder = await mkdtemp(path.join(os.tmpdir(), 'reslens-blocks-service-'));
    const photos = path.join(folder, 'photos');
    await mkdir(photos);
    for (let i = 0; i < 5; i++) await writeFile(path.join(photos, `p${i}.jpg`), await photoLike(320 + 16 * i, 240, 'jpeg', 40 + i));
    await writeFile(path.join(photos, 'broken.jpg'), 'not an image');
    images.set('img_aaaaaaaa', { path: path.join(photos, 'p0.jpg'), name: 'p0.jpg' });
    images.set('img_badbadba', { path: path.join(photos, 'broken.jpg'), name: 'broken.jpg' });
    folders.set('dir_photos00', photos);
    // The page may select only catalog/store names or the model the host was started with (hardening #7).
    const model = await ensureFixture({ depth: 18, bn: 'folded' });
    service = new EngineService({ host, modelsDir: path.join(folder, 'models'), cacheDir: path.join(folder, 'cache'), ep: 'cpu', initialModel: model });
    await service.handle('models.select', { name: model });
  });
  afterAll(async () => {
    await service?.dispose();
    await rm(folder, { recursive: true, force: true });
  });

  it('blocks.get: every block with norms and maps; a removed block changes the top-5 and is reported against the intact network', async () => {
    const intact = await service.handle('blocks.get', { image: 'img_aaaaaaaa' });
    expect(intact.blocks.map((b) => b.id)).toEqual(['layer1.0', 'layer1.1', 'layer2.0', 'layer2.1', 'layer3.0', 'layer3.1', 'layer4.0', 'layer4.1']);
    expect(intact.blocks.filter((b) => b.stride === 2).map((b) => b.id)).toEqual(['layer2.0', 'layer3.0', 'layer4.0']);
    expect(intact.top).toEqual(intact.intactTop);
    expect(intact.intactTop1.rank).toBe(1);
    for (const b of intact.blocks) {
      expect(b.residualNorm).toBeGreaterThan(0);
      expect(b.residualMap.data.length).toBe(b.residualMap.width * b.residualMap.height);
      expect(Math.max(...b.outputMap.data)).toBe(1);
    }
    const lesioned = await service.handle('blocks.get', { image: 'img_aaaaaaaa', scales: { 'layer2.0': 0, 'layer3.1': 0.5 } });
    expect(lesioned.intactTop).toEqual(intact.top);
    expect(lesioned.blocks.find((b) => b.id === 'layer2.0')).toMatchObject({ residualNorm: 0, scale: 0 });
    expect(lesioned.blocks.find((b) => b.id === 'layer3.1')?.scale).toBe(0.5);
    expect(lesioned.intactTop1.prob).not.toBeCloseTo(lesioned.intactTop1.intactProb, 4);
    expect(lesioned.top.map((t) => t.prob)).not.toEqual(intact.top.map((t) => t.prob));
    // The feature view of the same lesioned network: same top-5, its CAMs for those classes, every stage.
    const features = await service.handle('blocks.features', { image: 'img_aaaaaaaa', scales: { 'layer2.0': 0, 'layer3.1': 0.5 } });
    expect(features.top.map((t) => t.index)).toEqual(lesioned.top.map((t) => t.index));
    for (const [i, t] of features.top.entries()) expect(t.prob).toBeCloseTo(lesioned.top[i].prob, 5);
    expect(features.cams.map((c) => c.index)).toEqual(lesioned.top.map((t) => t.index));
    expect(features.stages.map((s) => s.name)).toEqual(['stem', 'layer1', 'layer2', 'layer3', 'layer4']);
    const plain = await service.handle('features.get', { image: 'img_aaaaaaaa' });
    expect(features.stages[4].stats.mean).not.toBeCloseTo(plain.stages[4].stats.mean, 5);
    expect(features.stages[0].stats.mean).toBeCloseTo(plain.stages[0].stats.mean, 4); // the stem is before every block
    // The lesioned maps are shown as the feature view's (service/feature-values.ts): each stage keeps
    // its note and receptive field, each map its value range (the colour bar's numbers); only the
    // channel means stay out (the channel grid shows the intact run's channel maps).
    for (const [i, stage] of features.stages.entries()) {
      expect(stage.note).toBe(plain.stages[i].note);
      expect(stage.note).toBeTruthy();
      expect(stage.receptiveField).toEqual(plain.stages[i].receptiveField);
      expect(stage.channelMeans).toBeUndefined();
      for (const map of [stage.heatmap, ...stage.topChannels.map((c) => c.map)]) expect(map.max).toBeGreaterThanOrEqual(map.min as number);
    }
    expect(plain.stages[4].receptiveField?.size).toBeGreaterThan(0);
    expect(features.cams[0].map.max).toBeGreaterThan(features.cams[0].map.min as number);
  });

  it('blocks.get refuses ids the model lacks (listing the valid ones), and a broken photo is an error for that photo', async () => {
    await expect(service.handle('blocks.get', { image: 'img_aaaaaaaa', scales: { 'layer3.5': 0 } })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/layer3\.5.*layer1\.0, layer1\.1/),
    });
    await expect(service.handle('blocks.get', { image: 'img_badbadba' })).rejects.toMatchObject({ item: 'broken.jpg' });
    await expect(service.handle('blocks.get', { image: 'img_unknown0' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('the contract refuses hostile block parameters before they reach the engine', () => {
    const bad = [
      { method: 'blocks.get', params: { image: 'img_aaaaaaaa', scales: { 'layer2.0': 3 } } },
      { method: 'blocks.get', params: { image: 'img_aaaaaaaa', scales: { 'layer2.0': -1 } } },
      { method: 'blocks.get', params: { image: 'img_aaaaaaaa', scales: { '__proto__.x': 0 } } },
      { method: 'blocks.get', params: { image: 'img_aaaaaaaa', scales: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`layer3.${i}`, 0])) } },
      { method: 'blocks.get', params: { image: '../../etc/passwd' } },
      { method: 'lesion.start', params: { folder: '/home', blocks: ['layer1.0'] } },
      { method: 'lesion.start', params: { folder: 'dir_photos00', blocks: [] } },
      { method: 'lesion.start', params: { folder: 'dir_photos00', blocks: ['layer1.0; rm -rf'] } },
      { method: 'lesion.control', params: { study: 'study_x', action: 'pause' } },
      { method: 'lesion.export', params: { study: 'study_aaaaaaaaaa', format: 'xlsx' } },
    ];
    for (const [i, { method, params }] of bad.entries()) {
      const result = validateRequest({ kind: 'request', id: i, method, params });
      expect(result.ok, JSON.stringify(params)).toBe(false);
    }
    expect(validateRequest({ kind: 'request', id: 1, method: 'blocks.get', params: { image: 'img_aaaaaaaa', scales: { 'layer4.1': 2 } } }).ok).toBe(true);
  });

  it('lesion.start runs a study with progress events and its table, and exports it', async () => {
    events.length = 0;
    const started = await service.handle('lesion.start', { folder: 'dir_photos00', blocks: ['layer4.1', 'layer2.0'] });
    expect(started.blocks).toEqual(['layer2.0', 'layer4.1']);
    expect(started.inferencesPerImage).toBe(3);
    const deadline = Date.now() + 120_000;
    let last: LesionStudyValue | undefined;
    while (Date.now() < deadline) {
      last = events
        .filter((e) => e.event === 'lesion.progress')
        .map((e) => e.payload as LesionStudyValue)
        .pop();
      if (last && last.state !== 'running' && last.state !== 'paused') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(last?.state).toBe('done');
    expect(last?.done).toBe(6);
    expect(last?.failed).toBe(1);
    expect(last?.rows.map((r) => [r.block, r.images, r.downsample, r.stride])).toEqual([
      ['layer2.0', 5, true, 2],
      ['layer4.1', 5, false, 1],
    ]);
    for (const row of last?.rows ?? []) expect(row.agreement).toBeGreaterThanOrEqual(0);
    const csv = await service.handle('lesion.export', { study: started.study, format: 'csv' });
    const text = Buffer.from(csv.data).toString('utf8');
    expect(text.split('\r\n')[0]).toBe('block,stage,index,downsample,stride,images,top1_agreement,mean_top1_prob_drop');
    expect(text).toContain('layer4.1,layer4,1,false,1,5,');
    expect(csv.fileName).toBe('reslens-lesions-photos.csv');
    // Control on a finished study changes nothing.
    expect((await service.handle('lesion.control', { study: started.study, action: 'pause' })).state).toBe('done');
  });
});
