// Issue 14 (hardening), the browser-mode findings reproduced against the real server over its real
// WebSocket, with the real engine service behind it (a generated ResNet-18, CPU): the predictable
// batch folder another user created first, links that lead out of --root, models.select with a
// path, ten batch.start at once, a cancel that answered "running", work left running for nobody.
import { chown, lstat, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { BatchSummary, FolderListing, RequestName, ServerMessage } from '../../src-main/api/contract.js';
import { RUN_DIR_PREFIX } from '../../src-main/engine/core/temp-dirs.js';
import { decodeMessage, encodeMessage } from '../../src-main/api/codec.js';
import { ReslensServer } from '../../src-main/server/server.js';
import { EngineService } from '../../src-main/service/engine-service.js';
import { ensureFixture } from '../fixtures/generate.js';
import { photoLike } from '../helpers/bad-inputs.js';

let dir: string;
let root: string;
let outside: string;
let server: ReslensServer;
let service: EngineService;
const isRoot = process.getuid?.() === 0;
/** The folder the old code used, created first by "another user" (uid 65534) with a planted journal. */
const predictable = path.join(os.tmpdir(), `reslens-${process.pid}`);

class Client {
  private nextId = 1;
  private readonly waiting = new Map<number, (m: ServerMessage) => void>();
  readonly events: { event: string; payload: unknown }[] = [];
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const message = decodeMessage(data as Buffer) as ServerMessage;
      if (message.kind === 'event') this.events.push({ event: message.event, payload: message.payload });
      else this.waiting.get(message.id)?.(message);
    });
  }
  static open(): Promise<Client> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api/ws?token=${server.token}`);
      ws.once('open', () => resolve(new Client(ws)));
      ws.once('error', reject);
    });
  }
  call(method: RequestName, params: unknown): Promise<ServerMessage & { kind: 'response' }> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, (m) => resolve(m as ServerMessage & { kind: 'response' }));
      this.ws.send(encodeMessage({ kind: 'request', id, method, params }));
    });
  }
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}

const api = (p: string, init: RequestInit = {}) =>
  fetch(`${server.origin}${p}`, { ...init, headers: { 'x-reslens-token': server.token, ...(init.headers ?? {}) } });

async function folderId(relative: string): Promise<string> {
  let listing = (await (await api('/api/folders')).json()) as FolderListing;
  for (const part of relative.split('/').filter(Boolean)) {
    const next = listing.folders.find((f) => f.name === part);
    if (!next) throw new Error(`no folder ${part} in ${listing.current.path}`);
    listing = (await (await api(`/api/folders?folder=${next.folder}`)).json()) as FolderListing;
  }
  return listing.current.folder;
}

async function finished(client: Client, batch: string): Promise<BatchSummary> {
  for (let i = 0; i < 600; i++) {
    const list = (await client.call('batch.list', {})) as { ok: true; result: BatchSummary[] };
    const summary = list.result.find((b) => b.batch === batch);
    if (summary && summary.state !== 'running' && summary.state !== 'paused') return summary;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('batch did not finish');
}

const ourRunDirs = async (purpose: string): Promise<string[]> => {
  const found: string[] = [];
  for (const name of await readdir(os.tmpdir())) {
    if (!name.startsWith(`${RUN_DIR_PREFIX}${purpose}-`)) continue;
    const owner = await readFile(path.join(os.tmpdir(), name, '.reslens-owner'), 'utf8').catch(() => '');
    if (Number(owner.trim()) === process.pid) found.push(path.join(os.tmpdir(), name));
  }
  return found;
};

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'reslens-harden-browser-'));
  root = path.join(dir, 'root');
  outside = path.join(dir, 'outside');
  await mkdir(path.join(root, 'photos'), { recursive: true });
  await mkdir(path.join(root, 'many'), { recursive: true });
  await mkdir(outside, { recursive: true });
  for (let i = 0; i < 3; i++) await writeFile(path.join(root, 'photos', `p${i}.jpg`), await photoLike(160, 120, 'jpeg', i + 1));
  const many = await photoLike(320, 240, 'jpeg', 7);
  for (let i = 0; i < 60; i++) await writeFile(path.join(root, 'many', `m${String(i).padStart(2, '0')}.jpg`), many);
  await writeFile(path.join(outside, 'private.jpg'), await photoLike(160, 120, 'jpeg', 5));
  // Links inside --root that lead out of it: a folder and a single file.
  await symlink(outside, path.join(root, 'photos', 'escape'));
  await symlink(path.join(outside, 'private.jpg'), path.join(root, 'photos', 'leak.jpg'));

  if (isRoot) {
    await rm(predictable, { recursive: true, force: true });
    await mkdir(path.join(predictable, 'batches'), { recursive: true, mode: 0o777 });
    await writeFile(path.join(predictable, 'batches', 'planted.txt'), 'the attacker was here');
    await chown(predictable, 65534, 65534);
    await chown(path.join(predictable, 'batches'), 65534, 65534);
  }

  const staticDir = path.join(dir, 'static');
  await mkdir(staticDir);
  await writeFile(path.join(staticDir, 'index.html'), '<!doctype html><title>ResLens</title>');
  const model = await ensureFixture({ depth: 18, bn: 'folded' });
  server = await ReslensServer.start({
    staticDir,
    root,
    log: () => undefined,
    createService: (host) =>
      (service = new EngineService({ host, modelsDir: path.join(dir, 'models'), initialModel: model, ep: 'cpu', orphanBatchGraceMs: 300 })),
  });
  await service.start();
});

afterAll(async () => {
  await server?.close();
  await service?.dispose();
  await rm(dir, { recursive: true, force: true });
  if (isRoot) await rm(predictable, { recursive: true, force: true });
});

describe('#1 batch working files', () => {
  it.skipIf(!isRoot)('never go into a folder someone else created first; they live in a private 0700 mkdtemp folder', async () => {
    const client = await Client.open();
    const start = await client.call('batch.start', { folder: await folderId('photos') });
    expect(start.ok).toBe(true);
    const batch = (start as { result: BatchSummary }).result.batch;
    await finished(client, batch);
    // The planted folder is untouched: nothing of ours was written there.
    expect(await readdir(path.join(predictable, 'batches'))).toEqual(['planted.txt']);
    const dirs = await ourRunDirs('batches');
    expect(dirs).toHaveLength(1);
    const info = await lstat(dirs[0]);
    expect(info.isDirectory()).toBe(true);
    expect(info.mode & 0o777).toBe(0o700);
    expect(info.uid).toBe(process.getuid?.());
    expect((await readdir(dirs[0])).some((f) => f.startsWith(batch))).toBe(true);
    await client.close();
  });
});

describe('#2 --root containment of the batch walk', () => {
  it('links leading out of --root are neither classified, reported, nor organised into the root', async () => {
    const client = await Client.open();
    const start = (await client.call('batch.start', { folder: await folderId('photos') })) as { ok: true; result: BatchSummary };
    const summary = await finished(client, start.result.batch);
    expect(summary.state).toBe('done');
    const rows = (await client.call('batch.rows', { batch: start.result.batch, offset: 0, limit: 100 })) as { ok: true; result: { rows: { path: string }[] } };
    expect(rows.result.rows.map((r) => path.basename(r.path)).sort()).toEqual(['p0.jpg', 'p1.jpg', 'p2.jpg']);
    const frames = JSON.stringify(client.events);
    expect(frames).not.toContain('private.jpg');
    expect(frames).not.toContain(outside);
    // Organise by hard link into a folder under the root: only the three photos inside it.
    const created = (await (await api(`/api/folders?parent=${await folderId('')}&name=sorted`, { method: 'POST' })).json()) as { folder: string };
    const organised = (await client.call('batch.organize', {
      batch: start.result.batch,
      destination: created.folder,
      minProb: 0,
      mode: 'link',
      dryRun: false,
    })) as { ok: true; result: { copied: number; linked: number } };
    expect(organised.ok).toBe(true);
    expect(organised.result.copied + organised.result.linked).toBe(3);
    const privateInode = (await stat(path.join(outside, 'private.jpg'))).ino;
    for (const entry of await readdir(path.join(root, 'sorted'), { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) expect((await stat(path.join(entry.parentPath, entry.name))).ino).not.toBe(privateInode);
    }
    await client.close();
  });

  it('refuses the photo folder itself (or the root above it) as an organise destination', async () => {
    const client = await Client.open();
    const start = (await client.call('batch.start', { folder: await folderId('photos') })) as { ok: true; result: BatchSummary };
    await finished(client, start.result.batch);
    for (const destination of [await folderId('photos'), await folderId('')]) {
      const reply = await client.call('batch.organize', { batch: start.result.batch, destination, minProb: 0, mode: 'copy', dryRun: false });
      expect(reply.ok).toBe(false);
      expect(!reply.ok && reply.error.code).toBe('INVALID_ARGUMENT');
    }
    await client.close();
  });
});

describe('#6 batches: limits, batch.list, truthful control, work for nobody', () => {
  it('one batch per folder, a cap on concurrent batches, a reconnecting page finds its run, cancel answers cancelled', async () => {
    const first = await Client.open();
    const many = await folderId('many');
    const replies = await Promise.all(Array.from({ length: 10 }, () => first.call('batch.start', { folder: many })));
    const started = replies.filter((r) => r.ok) as { ok: true; result: BatchSummary }[];
    expect(started).toHaveLength(1);
    for (const reply of replies.filter((r) => !r.ok)) expect(!reply.ok && reply.error.code).toBe('BUSY');
    await first.close();
    // A reloaded page: a new connection lists the run and cancels it.
    const second = await Client.open();
    const list = (await second.call('batch.list', {})) as { ok: true; result: BatchSummary[] };
    expect(list.result.map((b) => b.batch)).toContain(started[0].result.batch);
    const cancel = (await second.call('batch.control', { batch: started[0].result.batch, action: 'cancel' })) as { ok: true; result: BatchSummary };
    expect(['cancelled', 'done']).toContain(cancel.result.state);
    const after = (await second.call('batch.list', {})) as { ok: true; result: BatchSummary[] };
    expect(after.result.find((b) => b.batch === started[0].result.batch)?.state).toBe(cancel.result.state);
    await second.close();
  });

  it('a batch left with no page connected is cancelled after the grace period', async () => {
    const client = await Client.open();
    const start = (await client.call('batch.start', { folder: await folderId('many') })) as { ok: true; result: BatchSummary };
    expect(start.ok).toBe(true);
    await client.close();
    await new Promise((r) => setTimeout(r, 2000));
    const again = await Client.open();
    const summary = await finished(again, start.result.batch);
    expect(summary.state).toBe('cancelled');
    expect(summary.done).toBeLessThan(60);
    await again.close();
  });
});

describe('#7 models.select from the page', () => {
  it('accepts catalog and store names only: a file in the working folder is not loaded, and no path leaks', async () => {
    const client = await Client.open();
    for (const name of ['package.json', 'tsconfig.json', 'node_modules']) {
      const reply = await client.call('models.select', { name, ep: 'cpu' });
      expect(reply.ok).toBe(false);
      if (!reply.ok) {
        expect(reply.error.code).toBe('MODEL_NOT_FOUND');
        expect(reply.error.message).not.toContain(process.cwd());
        expect(reply.error.message).not.toContain(os.homedir());
      }
    }
    const status = (await client.call('engine.status', {})) as { ok: true; result: { model: { name: string } | null } };
    expect(status.result.model?.name).toMatch(/resnet18/);
    await client.close();
  });
});
