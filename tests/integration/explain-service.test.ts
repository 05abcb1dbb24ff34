// explain.get and explain.labels through the engine service and the contract's validation, as a host
// drives them: granted image ids only, schemas refusing hostile parameters, errors as values.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EngineEvents, type EventName, validateRequest } from '../../src-main/api/contract.js';
import { EngineService, type ServiceHost } from '../../src-main/service/engine-service.js';
import { ensureFixture } from '../fixtures/generate.js';
import { photoLike } from '../helpers/bad-inputs.js';

describe('explanations through the engine service', () => {
  let folder: string;
  let service: EngineService;
  const images = new Map<string, { path: string; name: string }>();
  const host: ServiceHost = {
    resolveImage: (id) => images.get(id),
    resolveFolder: () => undefined,
    emit: <E extends EventName>(event: E, payload: EngineEvents[E]) => {
      events.push({ event, payload });
    },
  };
  const events: { event: EventName; payload: unknown }[] = [];

  beforeAll(async () => {
    folder = await mkdtemp(path.join(os.tmpdir(), 'reslens-explain-service-'));
    await writeFile(path.join(folder, 'a.jpg'), await photoLike(400, 300, 'jpeg', 1));
    await writeFile(path.join(folder, 'bad.jpg'), 'not an image');
    images.set('img_aaaaaaaa', { path: path.join(folder, 'a.jpg'), name: 'a.jpg' });
    images.set('img_badbadba', { path: path.join(folder, 'bad.jpg'), name: 'bad.jpg' });
    // The page may select only catalog/store names or the model the host was started with (hardening #7).
    const model = await ensureFixture({ depth: 18, bn: 'folded' });
    service = new EngineService({ host, modelsDir: path.join(folder, 'models'), cacheDir: path.join(folder, 'cache'), ep: 'cpu', initialModel: model });
    await service.handle('models.select', { name: model });
  });
  afterAll(async () => {
    await service?.dispose();
    await rm(folder, { recursive: true, force: true });
  });

  it('the top-1 by default; chosen classes and methods; maps normalised at each stage and the input', async () => {
    const first = await service.handle('explain.get', { image: 'img_aaaaaaaa' });
    expect(first.top).toHaveLength(5);
    expect(first.classes.map((c) => c.index)).toEqual([first.top[0].index]);
    expect(first.methods).toEqual(['gradcam']);
    const value = await service.handle('explain.get', { image: 'img_aaaaaaaa', classes: [3, 900], methods: ['layercam', 'saliency'] });
    expect(value.classes.map((c) => c.index)).toEqual([3, 900]);
    for (const c of value.classes) {
      expect(c.stages.map((s) => s.name)).toEqual(['stem', 'layer1', 'layer2', 'layer3', 'layer4']);
      for (const s of c.stages) {
        const map = s.maps.layercam!;
        expect([map.height, map.width]).toEqual([s.shape[1], s.shape[2]]);
        expect(Math.max(...map.data)).toBeLessThanOrEqual(1);
      }
      expect(c.input.saliency!.width).toBe(224);
    }
    expect(value.crop.jpeg.byteLength).toBeGreaterThan(1000);
    const labels = await service.handle('explain.labels', {});
    expect(labels.labels).toHaveLength(1000);
  });

  it('a method or class already run repaints from the cache; a changed file does not; integrated gradients report progress and stop on explain.cancel', async () => {
    const image = 'img_aaaaaaaa';
    const first = await service.handle('explain.get', { image, classes: [42], methods: ['gradcam'] });
    expect(first.fromCache).toBe(false);
    // Every stage method, and saliency, for the same class: formulas over the cached gradients.
    const again = await service.handle('explain.get', {
      image,
      classes: [42],
      methods: ['gradcam++', 'xgradcam', 'layercam', 'hirescam', 'eigencam', 'saliency'],
    });
    expect(again.fromCache).toBe(true);
    expect(again.classes[0].stages[4].maps.hirescam!.width).toBe(again.classes[0].stages[4].shape[2]);
    expect(again.classes[0].input.saliency!.width).toBe(224);
    // The same Grad-CAM maps from memory as from the run.
    const cachedCam = await service.handle('explain.get', { image, classes: [42], methods: ['gradcam'] });
    expect(cachedCam.fromCache).toBe(true);
    expect(cachedCam.classes[0].stages[2].maps.gradcam!.data).toEqual(first.classes[0].stages[2].maps.gradcam!.data);
    // Another class needs a run; two cached classes together do not.
    expect((await service.handle('explain.get', { image, classes: [43], methods: ['gradcam'] })).fromCache).toBe(false);
    expect((await service.handle('explain.get', { image, classes: [43, 42], methods: ['layercam'] })).fromCache).toBe(true);
    // A file changed on disk is a new image.
    const file = path.join(folder, 'a.jpg');
    await writeFile(file, await photoLike(400, 300, 'jpeg', 9));
    const changed = await service.handle('explain.get', { image, classes: [42], methods: ['gradcam'] });
    expect(changed.fromCache).toBe(false);
    expect(changed.classes[0].stages[2].maps.gradcam!.data).not.toEqual(first.classes[0].stages[2].maps.gradcam!.data);

    // Integrated gradients: progress events up to 16 of 16 path points.
    events.length = 0;
    const ig = await service.handle('explain.get', { image, classes: [42], methods: ['integrated-gradients'] });
    expect(ig.fromCache).toBe(false);
    const progress = events
      .filter((e) => e.event === 'explain.progress')
      .map((e) => e.payload as { method: string; done: number; total: number; image: string; index: number });
    expect(progress[0]).toMatchObject({ image, method: 'integrated-gradients', index: 42, done: 0, total: 16 });
    expect(progress.at(-1)).toMatchObject({ done: 16, total: 16 });
    // Cancelled after its first batch of 8 points: CANCELLED, and the service keeps working.
    events.length = 0;
    const cancelled = service.handle('explain.get', { image, classes: [7], methods: ['integrated-gradients'] });
    const stopped = await new Promise<unknown>((resolve) => {
      const timer = setInterval(() => {
        if (events.some((e) => e.event === 'explain.progress' && (e.payload as { done: number }).done > 0)) {
          clearInterval(timer);
          resolve(service.handle('explain.cancel', { image }));
        }
      }, 5);
    });
    expect(stopped).toEqual({ cancelled: true });
    await expect(cancelled).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(await service.handle('explain.cancel', { image })).toEqual({ cancelled: false });
    expect((await service.handle('explain.get', { image, classes: [42], methods: ['gradcam'] })).fromCache).toBe(true);
  });

  it('faithfulness on request', async () => {
    const value = await service.handle('explain.get', { image: 'img_aaaaaaaa', classes: [1], methods: ['gradcam'], faithfulness: true });
    const f = value.classes[0].faithfulness!.gradcam!;
    expect(f.deletion).toHaveLength(17);
    expect(f.insertionAuc).toBeGreaterThanOrEqual(0);
  });

  it('hostile and careless requests: schema refusals, errors as values, and the service keeps working', async () => {
    for (const params of [
      { image: 'img_aaaaaaaa', classes: [-1] },
      { image: 'img_aaaaaaaa', classes: Array.from({ length: 9 }, (_, i) => i) },
      { image: 'img_aaaaaaaa', methods: ['rm -rf'] },
      { image: '../../etc/passwd' },
      { image: 'img_aaaaaaaa', faithfulness: 'yes' },
      { image: 'img_aaaaaaaa', extra: 1 },
    ]) {
      const checked = validateRequest({ kind: 'request', id: 1, method: 'explain.get', params });
      expect(checked.ok, JSON.stringify(params)).toBe(false);
    }
    await expect(service.handle('explain.get', { image: 'img_aaaaaaaa', classes: [5000] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(service.handle('explain.get', { image: 'img_badbadba' })).rejects.toMatchObject({ item: 'bad.jpg' });
    await expect(service.handle('explain.get', { image: 'img_unknown1' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const again = await service.handle('explain.get', { image: 'img_aaaaaaaa', classes: [2] });
    expect(again.classes[0].index).toBe(2);
  });
});
