// The engine process and main's bridge to it (src-main/app/engine-bridge.ts, engine-host.ts,
// engine-main.ts), for real: a separate process running EngineService with onnxruntime, grants
// sent over the channel, a native-style crash (SIGKILL) in the middle of a request, the restart,
// and the built bundle (dist/app/engine.cjs) running on its own.
//
// STAND-IN FOR THE ELECTRON BINARY (not available here): Electron's utilityProcess is replaced by
// Node's child_process.fork with an IPC channel and V8 serialisation (nodeEngineLauncher), the
// model utilityProcess follows. The engine entry, the protocol and the bridge are the real ones.
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EngineStatus, ImageResult } from '../../src-main/api/contract.js';
import type { EventMessage } from '../../src-main/app/channels.js';
import { EngineBridge } from '../../src-main/app/engine-bridge.js';
import { GrantRegistry } from '../../src-main/app/grants.js';
import { HostError } from '../../src-main/app/host-error.js';
import { nodeEngineLauncher } from '../../src-main/app/node-engine-process.js';
import { ModelStore } from '../../src-main/engine/model/store.js';
import { ensureFixture } from '../fixtures/generate.js';
import { photoLike } from '../helpers/bad-inputs.js';
import { REPO_ROOT } from '../helpers/testdata.js';
import { buildBundles } from '../../scripts/electron.js';

const ENGINE_ENTRY = path.join(REPO_ROOT, 'src-main', 'app', 'engine-main.ts');

let dir: string;
let env: NodeJS.ProcessEnv;
let photos: string[];
const bridges: EngineBridge[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'reslens-engine-proc-'));
  const modelsDir = path.join(dir, 'models');
  const fixture = await ensureFixture({ depth: 18, bn: 'folded' });
  const local = path.join(dir, 'tiny.onnx');
  await copyFile(fixture, local);
  await new ModelStore(modelsDir).import(local, { name: 'tiny' });
  await rm(local);
  photos = [];
  for (let i = 0; i < 2; i++) {
    const file = path.join(dir, `photo-${i}.jpg`);
    await writeFile(file, await photoLike(400, 300, 'jpeg', i + 1));
    photos.push(file);
  }
  env = { ...process.env, RESLENS_MODELS_DIR: modelsDir, XDG_CACHE_HOME: path.join(dir, 'cache') };
});

afterEach(() => {
  for (const bridge of bridges.splice(0)) bridge.stop();
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function startBridge(options: { entry?: string; execArgv?: string[]; maxRestarts?: number } = {}) {
  const events: EventMessage[] = [];
  const grants = new GrantRegistry({ onGrant: (g) => bridge.grant(g) });
  const bridge: EngineBridge = new EngineBridge({
    launch: nodeEngineLauncher(options.entry ?? ENGINE_ENTRY, { execArgv: options.execArgv ?? ['--import', 'tsx'], env, stdio: 'ignore' }),
    grants: () => grants.all(),
    onEvent: (m) => events.push(m),
    maxRestarts: options.maxRestarts,
    hostVersions: { node: process.versions.node },
  });
  bridges.push(bridge);
  bridge.start();
  return { bridge, grants, events };
}

async function grant(grants: GrantRegistry, file: string): Promise<string> {
  const outcome = await grants.grantImage(file);
  if (!outcome.ok) throw new Error(outcome.reason);
  return outcome.grant.id;
}

async function until<T>(probe: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() - start > timeoutMs) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const statusEvents = (events: EventMessage[]) => events.filter((e) => e.event === 'engine.status').map((e) => e.payload as EngineStatus);

describe('engine process', () => {
  it('classifies granted images in its own process; ids it was never told about do not resolve there either', async () => {
    const { bridge, grants } = startBridge();
    const ids = [await grant(grants, photos[0]), await grant(grants, photos[1])];
    const status = (await bridge.handle('models.select', { name: 'tiny', ep: 'cpu' })) as EngineStatus;
    expect(status.model?.name).toBe('tiny');
    expect(bridge.pid).not.toBe(process.pid);

    const results = (await bridge.handle('images.classify', { images: ids, top: 5 })) as ImageResult[];
    expect(results.map((r) => r.name)).toEqual(['photo-0.jpg', 'photo-1.jpg']);
    for (const r of results) {
      expect('top' in r.result).toBe(true);
      if ('top' in r.result) expect(r.result.top).toHaveLength(5);
    }

    // Defence in depth: even a request that skipped main's grant check finds nothing in the engine.
    const forged = (await bridge.handle('images.classify', { images: ['img_AAAAAAAAAAAAAAAAAAAAAAAA'] })) as ImageResult[];
    expect(forged[0].result).toMatchObject({ error: { code: 'INVALID_ARGUMENT' } });
    await expect(bridge.handle('images.thumbnail', { image: 'img_AAAAAAAAAAAAAAAAAAAAAAAA', size: 64 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('a crash mid-request: the request gets ENGINE_CRASHED, the process restarts with its grants and model, the UI gets a notice', async () => {
    const { bridge, grants, events } = startBridge();
    const id = await grant(grants, photos[0]);
    await bridge.handle('models.select', { name: 'tiny', ep: 'cpu' });
    const firstPid = bridge.pid as number;

    const inFlight = bridge.handle('features.get', { image: id }).then(
      () => 'resolved',
      (error: HostError) => error,
    );
    process.kill(firstPid, 'SIGKILL');
    const outcome = await inFlight;
    expect(outcome).toBeInstanceOf(HostError);
    expect(outcome).toMatchObject({ code: 'ENGINE_CRASHED', message: expect.stringMatching(/SIGKILL.*restarted/) });

    // Restarted: a new process, the last model reloaded, and a status event carrying the notice.
    const announced = await until(() => statusEvents(events).find((s) => s.notice && s.model));
    expect(announced.notice).toMatch(/stopped unexpectedly \(killed by SIGKILL\).*restarted; 1 request\(s\) in progress failed/);
    expect(announced.model?.name).toBe('tiny');
    expect(bridge.pid).not.toBe(firstPid);
    expect(bridge.restarts).toBe(1);

    // The grant survived the restart: the same id works in the new process.
    const results = (await bridge.handle('images.classify', { images: [id] })) as ImageResult[];
    expect('top' in results[0].result).toBe(true);
    const status = (await bridge.handle('engine.status', {})) as EngineStatus;
    expect(status.notice).toBe(announced.notice);
  });

  it('a crash loop stops restarting: requests get ENGINE_UNAVAILABLE and engine.status explains', async () => {
    const { bridge, events } = startBridge({ maxRestarts: 1 });
    await bridge.handle('engine.status', {});
    process.kill(bridge.pid as number, 'SIGKILL');
    await until(() => (bridge.restarts === 1 && bridge.pid ? true : undefined));
    await bridge.handle('engine.status', {});
    process.kill(bridge.pid as number, 'SIGKILL');
    await until(() => (bridge.state === 'failed' ? true : undefined));

    await expect(bridge.handle('models.list', {})).rejects.toMatchObject({ code: 'ENGINE_UNAVAILABLE' });
    const status = (await bridge.handle('engine.status', {})) as EngineStatus;
    expect(status.model).toBeNull();
    expect(status.notice).toMatch(/stopped unexpectedly 2 times.*not restarted again/);
    expect(statusEvents(events).at(-1)?.notice).toBe(status.notice);
  });

  it('a process that never gets ready counts as crashed; one that cannot start at all is reported', async () => {
    const stuck = path.join(dir, 'stuck-engine.cjs');
    await writeFile(stuck, 'setInterval(() => {}, 1000); // never says ready\n');
    const events: EventMessage[] = [];
    const bridge = new EngineBridge({
      launch: nodeEngineLauncher(stuck, { env, stdio: 'ignore' }),
      grants: () => [],
      onEvent: (m) => events.push(m),
      maxRestarts: 0,
      readyTimeoutMs: 1000,
    });
    bridges.push(bridge);
    bridge.start();
    const waiting = bridge.handle('engine.status', {}).catch((e: HostError) => e);
    await until(() => (bridge.state === 'failed' ? true : undefined), 20_000);
    expect(await waiting).toMatchObject({ code: 'ENGINE_CRASHED', message: expect.stringMatching(/not ready within 1 s/) });
    expect(bridge.notice).toMatch(/not ready within 1 s/);

    const broken = new EngineBridge({
      launch: () => {
        throw new Error('spawn ENOENT');
      },
      grants: () => [],
      onEvent: (m) => events.push(m),
    });
    broken.start();
    expect(broken.state).toBe('failed');
    await expect(broken.handle('models.list', {})).rejects.toMatchObject({
      code: 'ENGINE_UNAVAILABLE',
      message: expect.stringMatching(/could not be started \(spawn ENOENT\)/),
    });
    expect(((await broken.handle('engine.status', {})) as EngineStatus).notice).toMatch(/could not be started/);
  });

  it('the built bundles (dist/app/engine.cjs and its worker threads) run on their own with only onnxruntime-node and sharp external', async () => {
    // Built inside the checkout: the engine finds models/catalog.json by walking up from its file.
    const outDir = path.join(REPO_ROOT, 'dist', `test-engine-bundle-${process.pid}`);
    try {
      const { engine } = await buildBundles({ outDir, only: ['engine', 'worker'] });
      // The engine's preprocessing threads start from files beside the bundle.
      const boot = new Worker(path.join(outDir, 'preprocess-worker-boot.mjs'), {
        workerData: { impl: pathToFileURL(path.join(outDir, 'preprocess-worker.js')).href, tsx: false },
      });
      try {
        expect(await new Promise((resolve, reject) => boot.once('message', resolve).once('error', reject))).toEqual({ ready: true });
      } finally {
        await boot.terminate();
      }
      const { bridge, grants } = startBridge({ entry: engine, execArgv: [] });
      const status = (await bridge.handle('engine.status', {})) as EngineStatus;
      expect(status.versions.onnxruntime).toMatch(/^\d+\.\d+/);
      expect(status.versions.sharp).toMatch(/^\d+\.\d+/);
      const models = (await bridge.handle('models.list', {})) as { name: string }[];
      expect(models.map((m) => m.name)).toContain('tiny');
      const id = await grant(grants, photos[1]);
      const thumb = (await bridge.handle('images.thumbnail', { image: id, size: 64 })) as { jpeg: Uint8Array; width: number };
      expect(thumb.jpeg).toBeInstanceOf(Uint8Array);
      expect(thumb.width).toBeLessThanOrEqual(64);
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }
  });
});
