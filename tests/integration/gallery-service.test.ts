// Gallery and sessions behind the contract (issue 15), driven as a host drives them, with the real
// engine: kept runs found again by a restarted engine, reopened and resumed; result thumbnails and
// feature views reached by run and row only; hostile and careless cases (a photo swapped for a link
// out of --root, rows that do not exist, a deleted run folder); and the desktop app's "Show in
// folder" through main's IPC actions (the Electron binary's shell is the one stand-in: a recorder).
import { mkdir, mkdtemp, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchId, BatchSummary, ClientMessage, EngineEvents, EventName } from '../../src-main/api/contract.js';
import { GrantRegistry } from '../../src-main/app/grants.js';
import { hostActions } from '../../src-main/app/ipc-main.js';
import { EngineService, type ServiceHost } from '../../src-main/service/engine-service.js';
import { ensureFixture } from '../fixtures/generate.js';
import { photoLike } from '../helpers/bad-inputs.js';
import { ElectronDialogsStandIn } from '../helpers/electron-stand-in.js';

describe('gallery and sessions (service)', () => {
  let base: string;
  let root: string;
  let photos: string;
  let dataDir: string;
  let model: string;
  const services: EngineService[] = [];
  const folders = new Map<string, string>([]);
  const host = (events: { event: EventName; payload: unknown }[] = []): ServiceHost => ({
    resolveImage: () => undefined,
    resolveFolder: (id) => folders.get(id),
    batchRoot: root,
    emit: <E extends EventName>(event: E, payload: EngineEvents[E]) => void events.push({ event, payload }),
  });
  const newService = async (): Promise<EngineService> => {
    const service = new EngineService({
      host: host(),
      modelsDir: path.join(base, 'models'),
      cacheDir: path.join(base, 'cache'),
      dataDir,
      ep: 'cpu',
      initialModel: model,
    });
    services.push(service);
    await service.start();
    return service;
  };
  async function finished(service: EngineService, batch: BatchId): Promise<BatchSummary> {
    for (let i = 0; i < 600; i++) {
      const run = (await service.handle('batch.list', {})).find((b) => b.batch === batch);
      if (run && run.state !== 'running' && run.state !== 'paused') return run;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error('the batch did not finish');
  }

  let first: EngineService;
  let batch: BatchId;

  beforeAll(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'reslens-gallery-service-'));
    root = path.join(base, 'root');
    photos = path.join(root, 'photos');
    dataDir = path.join(base, 'data');
    await mkdir(photos, { recursive: true });
    for (let i = 0; i < 4; i++) await writeFile(path.join(photos, `p${i}.jpg`), await photoLike(400, 300, 'jpeg', 60 + i));
    await writeFile(path.join(photos, 'broken.jpg'), 'not an image');
    await writeFile(path.join(base, 'secret.jpg'), await photoLike(64, 64, 'jpeg', 9)); // outside --root
    folders.set('dir_photos00', photos);
    model = await ensureFixture({ depth: 18, bn: 'folded' });
    first = await newService();
    batch = (await first.handle('batch.start', { folder: 'dir_photos00' })).batch;
    expect((await finished(first, batch)).state).toBe('done');
  }, 240_000);
  afterAll(async () => {
    for (const s of services) await s.dispose();
    await rm(base, { recursive: true, force: true });
  });

  it('thumbnails and feature views of results are reached by run and row, bounded, and a result id works like a granted image', async () => {
    const { rows } = await first.handle('batch.rows', { batch, offset: 0, limit: 100 });
    const ok = rows.findIndex((r) => r.top);
    const bad = rows.findIndex((r) => r.error);
    const thumb = await first.handle('results.thumbnail', { batch, index: ok, size: 128 });
    expect(Math.max(thumb.width, thumb.height)).toBe(128);
    await expect(first.handle('results.thumbnail', { batch, index: bad, size: 128 })).rejects.toMatchObject({ code: 'NOT_AN_IMAGE' });
    await expect(first.handle('results.thumbnail', { batch, index: 999, size: 128 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(first.handle('results.thumbnail', { batch: 'batch_notarunatall' as BatchId, index: 0, size: 128 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    const opened = await first.handle('results.open', { batch, index: ok });
    expect(opened.name).toBe(path.basename(rows[ok].path));
    expect(JSON.stringify(opened)).not.toContain(path.sep + 'photos'); // an id, not a path
    const features = await first.handle('features.get', { image: opened.image });
    expect(features.top[0].index).toBe(rows[ok].top?.[0].index);
  });

  it('a photo swapped for a link out of --root after the run is refused (no thumbnail, no feature view)', async () => {
    const { rows } = await first.handle('batch.rows', { batch, offset: 0, limit: 100 });
    const index = rows.findIndex((r) => r.path.endsWith('p3.jpg'));
    await unlink(rows[index].path);
    await symlink(path.join(base, 'secret.jpg'), rows[index].path);
    await expect(first.handle('results.thumbnail', { batch, index, size: 64 })).rejects.toMatchObject({ code: 'PATH_NOT_ALLOWED' });
    await expect(first.handle('results.open', { batch, index })).rejects.toMatchObject({ code: 'PATH_NOT_ALLOWED' });
    await unlink(rows[index].path);
    await writeFile(rows[index].path, await photoLike(400, 300, 'jpeg', 63));
  });

  it('the contract refuses hostile parameters before the engine sees them', async () => {
    const { validateRequest } = await import('../../src-main/api/contract.js');
    const refused = (method: string, params: unknown) => validateRequest({ kind: 'request', id: 1, method, params } as ClientMessage).ok;
    expect(refused('results.thumbnail', { batch, index: 0, size: 4096 })).toBe(false);
    expect(refused('results.thumbnail', { batch, index: -1, size: 64 })).toBe(false);
    expect(refused('results.thumbnail', { batch, index: 0, size: 64, path: '/etc/passwd' })).toBe(false);
    expect(refused('results.open', { batch: '../../etc', index: 0 })).toBe(false);
    expect(refused('sessions.open', { batch: 'batch_../../../x' })).toBe(false);
    expect(refused('batch.resume', { batch, retryFailed: 'yes' })).toBe(false);
  });

  it('a restarted engine lists the run, reopens its rows from the journal, and resumes it (only new files)', async () => {
    const second = await newService();
    const { sessions, notice } = await second.handle('sessions.list', {});
    expect(notice).toBeNull();
    const kept = sessions.find((s) => s.batch === batch);
    expect(kept).toMatchObject({ folder: photos, state: 'done', done: 5, failed: 1, live: false });
    const reopened = await second.handle('sessions.open', { batch });
    expect(reopened).toMatchObject({ batch, state: 'done', done: 5, failed: 1 });
    const before = await first.handle('batch.rows', { batch, offset: 0, limit: 100 });
    const after = await second.handle('batch.rows', { batch, offset: 0, limit: 100 });
    expect(after.rows.map((r) => r.path).sort()).toEqual(before.rows.map((r) => r.path).sort());
    expect((await second.handle('results.thumbnail', { batch, index: after.rows.findIndex((r) => r.top), size: 64 })).jpeg.length).toBeGreaterThan(100);

    await writeFile(path.join(photos, 'new.jpg'), await photoLike(300, 200, 'jpeg', 77));
    const resumed = await second.handle('batch.resume', { batch, retryFailed: false });
    expect(resumed.batch).toBe(batch);
    await expect(second.handle('batch.resume', { batch, retryFailed: false })).rejects.toMatchObject({ code: 'BUSY' });
    const done = await finished(second, batch);
    expect(done).toMatchObject({ state: 'done', done: 6, failed: 1 });
    const rows = await second.handle('batch.rows', { batch, offset: 0, limit: 100 });
    expect(rows.total).toBe(6); // one row per file: the five kept and the new one
    expect(rows.rows.filter((r) => r.path.endsWith('new.jpg'))).toHaveLength(1);
    expect((await second.handle('sessions.list', {})).sessions.find((s) => s.batch === batch)).toMatchObject({ done: 6, state: 'done' });
  }, 120_000);

  it('a deleted run folder: the run is still listed, opening it says why, and it can be forgotten', async () => {
    const third = await newService();
    await rm(path.join(dataDir, 'sessions', 'runs', batch), { recursive: true, force: true });
    expect((await third.handle('sessions.list', {})).sessions.map((s) => s.batch)).toContain(batch);
    await expect(third.handle('sessions.open', { batch })).rejects.toMatchObject({ code: 'FILE_NOT_FOUND', message: /journal is gone/ });
    expect(await third.handle('sessions.forget', { batch })).toEqual({ forgotten: true });
    expect((await third.handle('sessions.list', {})).sessions.map((s) => s.batch)).not.toContain(batch);
  });

  it('a crafted Images session cannot make the engine open a path: only ids the host still resolves come back', async () => {
    const service = await newService();
    const file = path.join(dataDir, 'sessions', 'images-session.json');
    const entry = (p: string, id: string) => ({
      path: p,
      id,
      name: path.basename(p),
      at: '2026-12-01T10:00:00.000Z',
      model: 'm',
      result: { top: [{ index: 1, label: 'x', prob: 0.5 }], ep: 'cpu', ms: 1 },
    });
    await writeFile(
      file,
      JSON.stringify({
        reslens: 'images-session',
        version: 1,
        images: [entry('/etc/passwd', 'img_aaaaaaaa'), entry(path.join(base, 'secret.jpg'), 'img_bbbbbbbb')],
      }),
    );
    const { cards, notice } = await service.handle('sessions.images', {});
    expect(notice).toBeNull();
    expect(cards.map((c) => c.image)).toEqual([null, null]);
    expect(cards.map((c) => c.name)).toEqual(['passwd', 'secret.jpg']);
    expect(await service.handle('sessions.clearImages', {})).toEqual({ cleared: 2 });
  });

  it('Show in folder (desktop): main finds the path in the engine rows; the renderer can only name a run and row', async () => {
    const service = await newService();
    const run = (await service.handle('batch.start', { folder: 'dir_photos00' })).batch;
    await finished(service, run);
    const shown: string[] = [];
    const actions = hostActions({
      isTrustedSender: () => true,
      engine: { handle: (method, params) => service.handle(method, params) },
      grants: new GrantRegistry(),
      dialogs: new ElectronDialogsStandIn(),
      showItemInFolder: (file) => shown.push(file), // stand-in for Electron's shell.showItemInFolder
    });
    const { rows } = await service.handle('batch.rows', { batch: run, offset: 0, limit: 100 });
    expect(await actions.showResult(run, 0)).toEqual({ shown: true });
    expect(shown).toEqual([rows[0].path]);
    await expect(actions.showResult('/etc/passwd', 0)).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    await expect(actions.showResult(run, '0; rm -rf /')).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    await expect(actions.showResult(run, 500)).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    expect(shown).toHaveLength(1);
    // Image ids the engine issued for results pass main's grant check; made-up ones do not.
    const message = (method: string, params: unknown): ClientMessage => ({ kind: 'request', id: 1, method, params }) as ClientMessage;
    const opened = (await actions.request(message('results.open', { batch: run, index: rows.findIndex((r) => r.top) }))) as { image: string };
    await expect(actions.request(message('features.channel', { image: opened.image, stage: 'layer4', channel: 0 }))).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    }); // reached the engine: no feature view open yet
    await expect(actions.request(message('features.channel', { image: 'img_madeupmadeup', stage: 'layer4', channel: 0 }))).rejects.toMatchObject({
      code: 'NOT_GRANTED',
    });
  }, 120_000);
});
