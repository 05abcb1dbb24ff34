// Hostile renderer input against main's IPC layer (src-main/app/ipc-main.ts): every message that is
// malformed, too big, from the wrong frame, or names something the user never granted gets an
// error value, and the engine (a real EngineService) is never reached.
//
// The one stand-in here is for the Electron binary, which does not exist on this machine
// (tests/helpers/electron-stand-in.ts): Electron's ipcMain and native dialogs, delivering messages
// the way Electron does (structured clone, a senderFrame with url and parent). Everything behind it
// is the real code: registerIpc, GrantRegistry on the real file system, and a real EngineService.
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ClientMessage, ImageIdSchema, MAX_REQUEST_BYTES, type RequestName, type RequestParams } from '../../src-main/api/contract.js';
import type { IpcReply } from '../../src-main/app/channels.js';
import type { EngineLink } from '../../src-main/app/engine-bridge.js';
import { type Grant, GrantRegistry, pathStringProblem } from '../../src-main/app/grants.js';
import { MAX_PATHS_PER_CALL, registerIpc, safeFileName } from '../../src-main/app/ipc-main.js';
import { payloadSize } from '../../src-main/app/payload-size.js';
import { APP_ORIGIN, trustedSender } from '../../src-main/app/sender.js';
import { EngineService, type ServiceHost } from '../../src-main/service/engine-service.js';
import { photoLike } from '../helpers/bad-inputs.js';
import { ElectronDialogsStandIn, ElectronIpcMainStandIn } from '../helpers/electron-stand-in.js';

const APP_FRAME = { url: `${APP_ORIGIN}/index.html`, parent: null };

let dir: string;
let photo: string;
let folder: string;
let ipc: ElectronIpcMainStandIn;
let dialogs: ElectronDialogsStandIn;
let grants: GrantRegistry;
let service: EngineService;
/** How often the engine was reached: handle() calls and id resolutions. */
const reached = { handle: 0, resolveImage: 0, resolveFolder: 0 };
const engineGrants = new Map<string, Grant>();

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'reslens-ipc-'));
  photo = path.join(dir, 'photo.jpg');
  await writeFile(photo, await photoLike(320, 240, 'jpeg'));
  folder = path.join(dir, 'batch');
  await mkdir(folder);
  await symlink(photo, path.join(dir, 'link-to-photo.jpg'));

  const host: ServiceHost = {
    resolveImage(id) {
      reached.resolveImage += 1;
      const g = engineGrants.get(id);
      return g?.kind === 'image' ? { path: g.path, name: g.name } : undefined;
    },
    resolveFolder(id) {
      reached.resolveFolder += 1;
      const g = engineGrants.get(id);
      return g?.kind === 'folder' ? g.path : undefined;
    },
    emit() {},
  };
  service = new EngineService({ host, modelsDir: path.join(dir, 'models') });
  const engine: EngineLink = {
    handle<N extends RequestName>(method: N, params: RequestParams<N>) {
      reached.handle += 1;
      return service.handle(method, params);
    },
  };
  ipc = new ElectronIpcMainStandIn();
  dialogs = new ElectronDialogsStandIn();
  grants = new GrantRegistry({ onGrant: (g) => engineGrants.set(g.id, g) });
  registerIpc(ipc, { isTrustedSender: trustedSender([APP_ORIGIN]), engine, grants, dialogs });
});

afterAll(async () => {
  await service?.dispose();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  reached.handle = 0;
  reached.resolveImage = 0;
  reached.resolveFolder = 0;
});

const request = (method: string, params: unknown, id = 1): ClientMessage => ({ kind: 'request', id, method, params }) as ClientMessage;
const call = (message: unknown, frame: { url: string; parent: unknown } | null = APP_FRAME) => ipc.invoke('reslens:request', frame, message);
async function grantedImage(): Promise<string> {
  const reply = await ipc.invoke('reslens:add-paths', APP_FRAME, [photo]);
  if (!reply.ok) throw new Error(reply.error.message);
  return (reply.result as { granted: { image: string }[] }).granted[0].image;
}
function expectRefused(reply: IpcReply<unknown>, code: string | RegExp = 'INVALID_REQUEST'): void {
  expect(reply.ok).toBe(false);
  if (!reply.ok) {
    expect(reply.error.code).toMatch(code);
    expect(reply.error.message.length).toBeGreaterThan(0);
  }
}
const engineUntouched = () => expect(reached).toEqual({ handle: 0, resolveImage: 0, resolveFolder: 0 });

describe('the IPC surface', () => {
  it('registers exactly the declared channels', () => {
    expect(ipc.channels().sort()).toEqual(['reslens:add-paths', 'reslens:pick-folder', 'reslens:request', 'reslens:save-file', 'reslens:show-result']);
  });

  it('positive control: a valid request reaches the real engine, and a granted id resolves there', async () => {
    const status = await call(request('engine.status', {}));
    expect(status.ok).toBe(true);
    expect(reached.handle).toBe(1);
    const image = await grantedImage();
    const thumb = await call(request('images.thumbnail', { image, size: 64 }));
    expect(thumb.ok).toBe(true);
    if (thumb.ok) expect((thumb.result as { jpeg: Uint8Array }).jpeg).toBeInstanceOf(Uint8Array);
    expect(reached).toMatchObject({ handle: 2, resolveImage: 1 });
  });
});

describe('requests with wrong shapes are refused before the engine', () => {
  const cases: [string, unknown][] = [
    ['null', null],
    ['a string', 'engine.status'],
    ['a number', 42],
    ['an array', [{ kind: 'request', id: 1, method: 'engine.status', params: {} }]],
    ['no kind', { id: 1, method: 'engine.status', params: {} }],
    ['a string id', { kind: 'request', id: '1', method: 'engine.status', params: {} }],
    ['a negative id', { kind: 'request', id: -1, method: 'engine.status', params: {} }],
    ['a fractional id', { kind: 'request', id: 1.5, method: 'engine.status', params: {} }],
    ['an extra envelope field', { kind: 'request', id: 1, method: 'engine.status', params: {}, path: '/etc/passwd' }],
    ['wrong parameter types', request('images.thumbnail', { image: 42, size: 'big' })],
    ['an out-of-range number', request('images.thumbnail', { image: 'img_AAAAAAAAAAAA', size: 1e9 })],
    ['NaN', request('images.classify', { images: ['img_AAAAAAAAAAAA'], top: Number.NaN })],
    ['an extra parameter', request('images.thumbnail', { image: 'img_AAAAAAAAAAAA', size: 64, path: '/etc/passwd' })],
    ['params as an array', request('engine.status', [])],
    ['params as a string', request('engine.status', 'all')],
    ['an empty image list', request('images.classify', { images: [] })],
    ['a model name that is a path', request('models.select', { name: '../../etc/passwd' })],
    ['a model name that is a file URL', request('models.select', { name: 'file:///tmp/evil.onnx' })],
    ['an unknown execution provider', request('models.select', { name: 'resnet50', ep: 'rocm' })],
  ];
  it.each(cases)('%s', async (_label, message) => {
    expectRefused(await call(message));
    engineUntouched();
  });

  it('a missing argument or extra arguments', async () => {
    expectRefused(await ipc.invoke('reslens:request', APP_FRAME));
    expectRefused(await ipc.invoke('reslens:request', APP_FRAME, request('engine.status', {}), 'extra'));
    engineUntouched();
  });
});

describe('unknown methods are refused', () => {
  it.each(['engine.shutdown', 'batch.delete', 'fs.read', '__proto__', 'constructor', 'toString', 'hasOwnProperty', '', 'ENGINE.STATUS'])(
    '%j',
    async (method) => {
      expectRefused(await call(request(method, {})));
      engineUntouched();
    },
  );
});

describe('paths, URLs and raw strings where ids are expected', () => {
  const values = [
    '/etc/passwd',
    '../../etc/passwd',
    'photo.jpg',
    'C:\\Windows\\win.ini',
    '\\\\server\\share\\x.jpg',
    'file:///etc/passwd',
    'https://example.com/cat.jpg',
    'data:image/png;base64,AAAA',
    'img_../../etc/passwd',
    'img_%2e%2e%2fetc',
    'img_',
    'img_short',
    'IMG_AAAAAAAAAAAA',
  ];
  it.each(values)('images.thumbnail { image: %j }', async (value) => {
    expectRefused(await call(request('images.thumbnail', { image: value, size: 64 })));
    engineUntouched();
  });
  it.each(values)('batch.start { folder: %j }', async (value) => {
    expectRefused(await call(request('batch.start', { folder: value })));
    engineUntouched();
  });
});

describe('forged ids (well-formed, never granted) are refused', () => {
  it('an image id nobody issued', async () => {
    const forged = 'img_AAAAAAAAAAAAAAAAAAAAAAAA';
    expect(ImageIdSchema.safeParse(forged).success).toBe(true);
    for (const message of [
      request('images.thumbnail', { image: forged, size: 64 }),
      request('features.get', { image: forged }),
      request('features.channel', { image: forged, stage: 'layer4', channel: 0 }),
    ]) {
      expectRefused(await call(message), 'NOT_GRANTED');
    }
    engineUntouched();
  });

  it('one forged id among granted ones spoils the whole request', async () => {
    const image = await grantedImage();
    expectRefused(await call(request('images.classify', { images: [image, 'img_BBBBBBBBBBBBBBBBBBBBBBBB'] })), 'NOT_GRANTED');
    engineUntouched();
  });

  it('a granted id of the wrong kind', async () => {
    const image = await grantedImage();
    dialogs.openFolderAnswer = folder;
    const picked = await ipc.invoke('reslens:pick-folder', APP_FRAME);
    expect(picked.ok).toBe(true);
    const dirId = (picked as { ok: true; result: { folder: string } }).result.folder;
    // A folder id where an image is expected (same alphabet, other prefix) fails the schema; an image id where a folder is expected too.
    expectRefused(await call(request('images.thumbnail', { image: dirId.replace(/^dir_/, 'img_'), size: 64 })), 'NOT_GRANTED');
    expectRefused(await call(request('batch.start', { folder: image.replace(/^img_/, 'dir_') })), 'NOT_GRANTED');
    expectRefused(
      await call(
        request('batch.organize', { batch: 'batch_AAAAAAAAAAAA', destination: 'dir_AAAAAAAAAAAAAAAAAAAAAAAA', minProb: 0.5, mode: 'copy', dryRun: true }),
      ),
      'NOT_GRANTED',
    );
    engineUntouched();
  });
});

describe('oversized and pathological payloads are refused before validation', () => {
  it(`a request over MAX_REQUEST_BYTES (${MAX_REQUEST_BYTES})`, async () => {
    const images = Array.from({ length: 5000 }, (_, i) => `img_${String(i).padStart(24, 'A')}`);
    const reply = await call(request('images.classify', { images }));
    expectRefused(reply);
    if (!reply.ok) expect(reply.error.message).toMatch(/larger than/);
    engineUntouched();
  });

  it('a huge string, a huge typed array, deep nesting', async () => {
    expectRefused(await call(request('models.select', { name: 'x'.repeat(MAX_REQUEST_BYTES + 1) })));
    expectRefused(await call({ ...request('engine.status', {}), params: new Float32Array(1 << 20) }));
    let nested: unknown = {};
    for (let i = 0; i < 500; i++) nested = { a: nested };
    expectRefused(await call(request('engine.status', nested)));
    engineUntouched();
  });

  it('payloadSize: counts typed arrays by bytes, stops at the limit, refuses cycles', () => {
    expect(payloadSize({ a: new Uint8Array(1000) }, 10_000)).toBeGreaterThan(1000);
    expect(payloadSize({ a: new Uint8Array(1000) }, 500)).toBe(Number.POSITIVE_INFINITY);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(payloadSize(cyclic, 1e9)).toBe(Number.POSITIVE_INFINITY);
    const shared = { x: 1 };
    expect(payloadSize([shared, shared], 1e9)).toBeLessThan(100);
    expect(payloadSize('é'.repeat(10), 100)).toBe(22);
  });
});

describe('prototype pollution', () => {
  it.each([
    ['__proto__ in params', JSON.parse('{"kind":"request","id":1,"method":"engine.status","params":{"__proto__":{"polluted":true}}}')],
    ['__proto__ in the envelope', JSON.parse('{"kind":"request","id":1,"method":"engine.status","params":{},"__proto__":{"polluted":true}}')],
    ['constructor.prototype in params', request('engine.status', { constructor: { prototype: { polluted: true } } })],
    [
      '__proto__ beside valid params',
      JSON.parse('{"kind":"request","id":1,"method":"images.thumbnail","params":{"image":"img_AAAAAAAAAAAA","size":64,"__proto__":{"isAdmin":true}}}'),
    ],
    ['prototype as a key', request('models.list', { prototype: {} })],
  ])('%s', async (_label, message) => {
    expectRefused(await call(message));
    engineUntouched();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });
});

describe('the sender is checked on every channel', () => {
  const frames: [string, { url: string; parent: unknown } | null][] = [
    ['no frame (navigated away or destroyed)', null],
    ['another website', { url: 'https://evil.example/index.html', parent: null }],
    ['a file:// page', { url: 'file:///tmp/evil.html', parent: null }],
    ['an app:// look-alike host', { url: 'app://reslens.evil/index.html', parent: null }],
    ['a subframe of our own page', { url: `${APP_ORIGIN}/index.html`, parent: { url: `${APP_ORIGIN}/index.html` } }],
    ['a data: URL', { url: 'data:text/html,<script>1</script>', parent: null }],
    ['the dev server origin when not in dev mode', { url: 'http://127.0.0.1:5173/', parent: null }],
  ];
  it.each(frames)('%s', async (_label, frame) => {
    expectRefused(await call(request('engine.status', {}), frame), 'FORBIDDEN');
    expectRefused(await ipc.invoke('reslens:add-paths', frame, [photo]), 'FORBIDDEN');
    dialogs.openFolderAnswer = folder;
    expectRefused(await ipc.invoke('reslens:pick-folder', frame), 'FORBIDDEN');
    dialogs.saveAnswer = path.join(dir, 'never.csv');
    expectRefused(await ipc.invoke('reslens:save-file', frame, 'x.csv', new Uint8Array([1])), 'FORBIDDEN');
    engineUntouched();
  });

  it('the dev server is trusted only when configured', () => {
    const dev = trustedSender([APP_ORIGIN, 'http://127.0.0.1:5173']);
    expect(dev({ url: 'http://127.0.0.1:5173/index.html', parent: null })).toBe(true);
    expect(dev({ url: 'http://127.0.0.1:5174/index.html', parent: null })).toBe(false);
    expect(dev({ url: 'http://localhost:5173/', parent: null })).toBe(false);
  });
});

describe('add-paths: file access only for existing regular files', () => {
  it('grants a real image with an unguessable id, and the same id for the same file', async () => {
    const reply = await ipc.invoke('reslens:add-paths', APP_FRAME, [photo, photo, path.join(dir, 'link-to-photo.jpg')]);
    expect(reply.ok).toBe(true);
    const { granted, refused } = (reply as { ok: true; result: { granted: { image: string; name: string }[]; refused: unknown[] } }).result;
    expect(refused).toEqual([]);
    expect(granted).toHaveLength(3);
    expect(new Set(granted.map((g) => g.image)).size).toBe(1);
    expect(granted[0].name).toBe('photo.jpg');
    expect(granted[0].image).toMatch(/^img_[A-Za-z0-9_-]{24}$/);
    expect(ImageIdSchema.safeParse(granted[0].image).success).toBe(true);
  });

  it('ids are random, not derived from the path', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const registry = new GrantRegistry();
      const outcome = await registry.grantImage(photo);
      if (outcome.ok) ids.add(outcome.grant.id);
    }
    expect(ids.size).toBe(50);
  });

  it('refuses every hostile path with a reason, and grants nothing for them', async () => {
    const before = grants.size;
    const hostile: unknown[] = [
      'photo.jpg',
      './photo.jpg',
      `${dir}/../${path.basename(dir)}/photo.jpg`,
      `${dir}/./photo.jpg`,
      'file:///etc/passwd',
      `file://${photo}`,
      'https://example.com/cat.jpg',
      '',
      `${photo}\0.png`,
      `/${'a'.repeat(5000)}`,
      path.join(dir, 'does-not-exist.jpg'),
      folder,
      '/dev/null',
      42,
      null,
      { path: photo },
      [photo],
    ];
    const reply = await ipc.invoke('reslens:add-paths', APP_FRAME, hostile);
    expect(reply.ok).toBe(true);
    const { granted, refused } = (reply as { ok: true; result: { granted: unknown[]; refused: { name: string; reason: string }[] } }).result;
    expect(granted).toEqual([]);
    expect(refused).toHaveLength(hostile.length);
    for (const r of refused) expect(r.reason.length).toBeGreaterThan(3);
    expect(grants.size).toBe(before);
    engineUntouched();
  });

  it('refuses a non-list, too many paths, and files over the size limit', async () => {
    expectRefused(await ipc.invoke('reslens:add-paths', APP_FRAME, photo));
    expectRefused(await ipc.invoke('reslens:add-paths', APP_FRAME, { 0: photo, length: 1 }));
    expectRefused(
      await ipc.invoke(
        'reslens:add-paths',
        APP_FRAME,
        Array.from({ length: MAX_PATHS_PER_CALL + 1 }, () => '/x'),
      ),
    );
    const small = new GrantRegistry({ maxFileBytes: 100 });
    expect(await small.grantImage(photo)).toMatchObject({ ok: false, reason: expect.stringMatching(/larger than/) });
    const capped = new GrantRegistry({ maxGrants: 0 });
    expect(await capped.grantImage(photo)).toMatchObject({ ok: false });
    engineUntouched();
  });

  it('pathStringProblem names the problem before the file system is touched', () => {
    expect(pathStringProblem(photo)).toBeNull();
    expect(pathStringProblem('a/../b')).toMatch(/not an absolute path|segments/);
    expect(pathStringProblem('/a/../b')).toMatch(/segments/);
    expect(pathStringProblem('file:///a')).toMatch(/URL/);
    expect(pathStringProblem(undefined)).toMatch(/not a path/);
  });
});

describe('pick-folder and save-file', () => {
  it('pick-folder grants the chosen folder, returns null when cancelled, refuses a file and arguments', async () => {
    dialogs.openFolderAnswer = folder;
    const picked = await ipc.invoke('reslens:pick-folder', APP_FRAME);
    expect(picked).toMatchObject({ ok: true, result: { folder: expect.stringMatching(/^dir_[A-Za-z0-9_-]{24}$/), name: 'batch' } });
    dialogs.openFolderAnswer = null;
    expect(await ipc.invoke('reslens:pick-folder', APP_FRAME)).toEqual({ ok: true, result: null });
    dialogs.openFolderAnswer = photo;
    expectRefused(await ipc.invoke('reslens:pick-folder', APP_FRAME));
    expectRefused(await ipc.invoke('reslens:pick-folder', APP_FRAME, '/etc'));
    engineUntouched();
  });

  it('save-file writes only where the user chose, with a sanitised suggested name', async () => {
    const target = path.join(dir, 'out.csv');
    dialogs.saveAnswer = target;
    const reply = await ipc.invoke('reslens:save-file', APP_FRAME, '../../.bashrc', new TextEncoder().encode('a,b\n'));
    expect(reply).toEqual({ ok: true, result: { saved: true, path: target } });
    expect(await readFile(target, 'utf8')).toBe('a,b\n');
    expect(dialogs.saveDefaultNames.at(-1)).toBe('bashrc');
    dialogs.saveAnswer = null;
    expect(await ipc.invoke('reslens:save-file', APP_FRAME, 'x.csv', new Uint8Array([1]))).toEqual({ ok: true, result: { saved: false } });
    expect(safeFileName('a<b>:c|d?.csv')).toBe('a_b__c_d_.csv');
    expect(safeFileName('...')).toBe('reslens-export');
  });

  it('save-file refuses wrong types without opening a dialog', async () => {
    const opened = dialogs.saveDefaultNames.length;
    expectRefused(await ipc.invoke('reslens:save-file', APP_FRAME, 42, new Uint8Array([1])));
    expectRefused(await ipc.invoke('reslens:save-file', APP_FRAME, 'x.csv', 'a,b'));
    expectRefused(await ipc.invoke('reslens:save-file', APP_FRAME, 'x.csv', [1, 2, 3]));
    expectRefused(await ipc.invoke('reslens:save-file', APP_FRAME, '', new Uint8Array([1])));
    expectRefused(await ipc.invoke('reslens:save-file', APP_FRAME, 'x'.repeat(300), new Uint8Array([1])));
    expectRefused(await ipc.invoke('reslens:save-file', APP_FRAME, 'x.csv'));
    expect(dialogs.saveDefaultNames.length).toBe(opened);
    engineUntouched();
  });
});
