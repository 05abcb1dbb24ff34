// Browser-mode server without an engine: a stand-in service records what reaches it, so the tests
// can show that refused and invalid requests never do.
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MAX_REQUEST_BYTES, type ServerMessage } from '../../src-main/api/contract.js';
import { EngineError } from '../../src-main/engine/core/errors.js';
import { ErrorCode } from '../../src-main/engine/core/vocabulary.js';
import type { ServiceHost } from '../../src-main/service/engine-service.js';
import { decodeMessage, encodeMessage } from '../../src-main/api/codec.js';
import { ReslensServer } from '../../src-main/server/server.js';
import { safeFileName } from '../../src-main/server/uploads.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function request(port: number, options: { method?: string; path: string; headers?: Record<string, string>; body?: Buffer | string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: options.method ?? 'GET', path: options.path, headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const json = (reply: Reply) => JSON.parse(reply.body.toString('utf8')) as Record<string, unknown>;

let dir: string;
let root: string;
let staticDir: string;
let server: ReslensServer;
let host: ServiceHost;
const calls: { method: string; params: unknown }[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'reslens-server-test-'));
  root = path.join(dir, 'root');
  staticDir = path.join(dir, 'static');
  await mkdir(path.join(root, 'photos', 'cats'), { recursive: true });
  await mkdir(path.join(root, '.hidden'), { recursive: true });
  await mkdir(path.join(dir, 'outside'), { recursive: true });
  await writeFile(path.join(root, 'photos', 'a.jpg'), 'x');
  await symlink(path.join(dir, 'outside'), path.join(root, 'escape'));
  await symlink(path.join(root, 'photos', 'cats'), path.join(root, 'cats-link'));
  await mkdir(path.join(staticDir, 'assets'), { recursive: true });
  await writeFile(path.join(staticDir, 'index.html'), '<!doctype html><title>ResLens</title>');
  await writeFile(path.join(staticDir, 'assets', 'app.js'), 'console.log(1)');
  await writeFile(path.join(dir, 'secret.txt'), 'TOP-SECRET-CONTENT');
  server = await ReslensServer.start({
    staticDir,
    root,
    uploadLimitBytes: 1000,
    log: () => undefined,
    createService: (h) => {
      host = h;
      return {
        async handle(method: string, params: unknown) {
          calls.push({ method, params });
          if (method === 'features.channel') return { width: 2, height: 1, data: new Float32Array([0.25, 1]) };
          if (method === 'engine.status') return { model: null, versions: { node: process.versions.node } };
          throw new EngineError(ErrorCode.MODEL_NOT_FOUND, 'no model is loaded');
        },
      };
    },
  });
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('token', () => {
  it('refuses the page, assets and API without the token or with a wrong one', async () => {
    for (const p of ['/', '/index.html', '/assets/app.js', '/api/folders', '/favicon.svg']) {
      expect((await request(server.port, { path: p })).status, p).toBe(401);
      expect((await request(server.port, { path: `${p}${p.includes('?') ? '&' : '?'}token=wrong` })).status, p).toBe(401);
    }
    expect((await request(server.port, { method: 'POST', path: '/api/upload?name=a.jpg', body: 'abc' })).status).toBe(401);
    expect((await request(server.port, { path: '/', headers: { cookie: `reslens-${server.port}=wrong` } })).status).toBe(401);
    expect(calls).toEqual([]);
  });

  it('serves the page with the token and sets a port-scoped HttpOnly cookie that then opens the assets', async () => {
    const page = await request(server.port, { path: `/?token=${server.token}` });
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    const cookie = String(page.headers['set-cookie']);
    // Issue 14 #9: browsers send 127.0.0.1 cookies to every port, so the cookie never holds the token.
    expect(cookie).not.toContain(server.token);
    expect(cookie).toMatch(new RegExp(`^reslens-${server.port}=[A-Za-z0-9_-]{20,};`));
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    const pageCookie = cookie.split(';')[0];
    const asset = await request(server.port, { path: '/assets/app.js', headers: { cookie: pageCookie } });
    expect(asset.status).toBe(200);
    // The page cookie opens static files only: not the API, and the raw token as a cookie opens nothing.
    expect((await request(server.port, { path: '/api/folders', headers: { cookie: pageCookie } })).status).toBe(401);
    expect((await request(server.port, { method: 'POST', path: '/api/upload?name=a.jpg', headers: { cookie: pageCookie }, body: 'abc' })).status).toBe(401);
    expect((await request(server.port, { path: '/assets/app.js', headers: { cookie: `reslens-${server.port}=${server.token}` } })).status).toBe(401);
    expect(asset.headers['content-type']).toContain('javascript');
    expect((await request(server.port, { path: '/assets/app.js', headers: { 'x-reslens-token': server.token } })).status).toBe(200);
  });

  it('answers only to its own Host and Origin (DNS rebinding, cross-site posts)', async () => {
    const t = { 'x-reslens-token': server.token };
    expect((await request(server.port, { path: '/', headers: { ...t, host: `evil.example:${server.port}` } })).status).toBe(403);
    expect((await request(server.port, { path: '/', headers: { ...t, host: `localhost:${server.port}` } })).status).toBe(200);
    const post = await request(server.port, { method: 'POST', path: '/api/upload?name=a.jpg', headers: { ...t, origin: 'http://evil.example' }, body: 'abc' });
    expect(post.status).toBe(403);
  });

  it('never serves files outside the renderer folder', async () => {
    const t = { 'x-reslens-token': server.token };
    for (const p of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/%2e%2e/%2e%2e/secret.txt', '/assets', '/%00']) {
      const reply = await request(server.port, { path: p, headers: t });
      expect(reply.status, p).toBe(404);
      expect(reply.body.toString()).not.toContain('TOP-SECRET-CONTENT');
    }
  });
});

describe('uploads', () => {
  it('stores a file under its original name, hands out an img_ id the service host resolves, and enforces the size limit', async () => {
    const t = { 'x-reslens-token': server.token };
    const ok = await request(server.port, {
      method: 'POST',
      path: `/api/upload?name=${encodeURIComponent('ünï 写真.jpg')}`,
      headers: t,
      body: Buffer.from('hello'),
    });
    expect(ok.status).toBe(201);
    const { image, name } = json(ok) as { image: string; name: string };
    expect(image).toMatch(/^img_[A-Za-z0-9_-]{16}$/);
    expect(name).toBe('ünï 写真.jpg');
    const resolved = host.resolveImage(image);
    expect(resolved?.name).toBe('ünï 写真.jpg');
    expect(path.basename(resolved?.path ?? '')).toBe('ünï 写真.jpg');
    expect(await readFile(resolved?.path ?? '', 'utf8')).toBe('hello');
    expect(host.resolveImage('img_doesnotexist00')).toBeUndefined();

    const big = await request(server.port, { method: 'POST', path: '/api/upload?name=big.jpg', headers: t, body: Buffer.alloc(5000) });
    expect(big.status).toBe(413);
    expect((json(big).error as { code: string }).code).toBe('FILE_TOO_LARGE');
  });

  it('keeps names safe as one path component', () => {
    expect(safeFileName('../../etc/passwd')).toBe('.._.._etc_passwd');
    expect(safeFileName('a\\b\u0000c')).toBe('a_b_c');
    expect(safeFileName('..')).toBe('image');
    expect(Buffer.byteLength(safeFileName(`${'写'.repeat(200)}.jpeg`))).toBeLessThanOrEqual(200);
    expect(safeFileName(`${'写'.repeat(200)}.jpeg`).endsWith('.jpeg')).toBe(true);
  });
});

describe('folder picker', () => {
  it('lists folders under --root only (no hidden folders, no links that leave the root) and grants dir_ ids', async () => {
    const t = { 'x-reslens-token': server.token };
    const top = json(await request(server.port, { path: '/api/folders', headers: t })) as {
      current: { path: string; folder: string };
      parent: unknown;
      folders: { name: string; folder: string; path: string }[];
    };
    expect(top.parent).toBeNull();
    const names = top.folders.map((f) => f.name).sort();
    expect(names).toEqual(['cats', 'photos']); // cats-link resolves inside the root; escape and .hidden are not offered
    const photos = top.folders.find((f) => f.name === 'photos');
    expect(photos?.folder).toMatch(/^dir_/);
    expect(host.resolveFolder(photos?.folder ?? '')).toBe(path.join(await realRoot(), 'photos'));
    const inner = json(await request(server.port, { path: `/api/folders?folder=${photos?.folder}`, headers: t })) as {
      imageFiles: number;
      parent: { folder: string };
    };
    expect(inner.imageFiles).toBe(1);
    expect(inner.parent.folder).toBe(top.current.folder);
    expect((await request(server.port, { path: '/api/folders?folder=dir_unknown000', headers: t })).status).toBe(404);
    expect(host.resolveFolder('dir_unknown000')).toBeUndefined();
  });

  it('creates subfolders with safe names only', async () => {
    const t = { 'x-reslens-token': server.token };
    const top = json(await request(server.port, { path: '/api/folders', headers: t })) as { current: { folder: string } };
    const made = await request(server.port, { method: 'POST', path: `/api/folders?parent=${top.current.folder}&name=sorted`, headers: t });
    expect(made.status).toBe(201);
    expect((await stat(path.join(root, 'sorted'))).isDirectory()).toBe(true);
    for (const bad of ['../x', '.git', 'a/b', '']) {
      const reply = await request(server.port, {
        method: 'POST',
        path: `/api/folders?parent=${top.current.folder}&name=${encodeURIComponent(bad)}`,
        headers: t,
      });
      expect(reply.status, bad).toBe(400);
    }
    expect((await request(server.port, { method: 'POST', path: `/api/folders?parent=${top.current.folder}&name=sorted`, headers: t })).status).toBe(409);
  });
});

async function realRoot(): Promise<string> {
  return server.folders.rootPath();
}

function connect(query: string, headers: Record<string, string> = {}): Promise<{ ws?: WebSocket; status?: number }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api/ws${query}`, { headers });
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode }));
    ws.once('error', () => resolve({}));
  });
}

function exchange(ws: WebSocket, frame: Buffer | string): Promise<ServerMessage> {
  return new Promise((resolve) => {
    ws.once('message', (data) => resolve(decodeMessage(data as Buffer) as ServerMessage));
    ws.send(frame);
  });
}

describe('WebSocket', () => {
  it('refuses connections without the token, with a wrong one, or from another origin', async () => {
    expect((await connect('')).status).toBe(401);
    expect((await connect('?token=nope')).status).toBe(401);
    expect((await connect(`?token=${server.token}`, { origin: 'http://evil.example' })).status).toBe(403);
    // Neither the token nor the page cookie opens the WebSocket as a cookie (issue 14 #9: cookies reach every port).
    expect((await connect('', { cookie: `reslens-${server.port}=${server.token}`, origin: `http://127.0.0.1:${server.port}` })).status).toBe(401);
    const page = await request(server.port, { path: `/?token=${server.token}` });
    const pageCookie = String(page.headers['set-cookie']).split(';')[0];
    expect((await connect('', { cookie: pageCookie, origin: `http://127.0.0.1:${server.port}` })).status).toBe(401);
    const viaHeader = await connect('', { 'x-reslens-token': server.token, origin: `http://127.0.0.1:${server.port}` });
    expect(viaHeader.ws).toBeDefined();
    viaHeader.ws?.close();
  });

  it('validates every message before the service sees it', async () => {
    const { ws } = await connect(`?token=${server.token}`);
    if (!ws) throw new Error('no connection');
    const before = calls.length;
    const cases: [Buffer | string, string, number][] = [
      ['{"kind":"request"}', 'INVALID_REQUEST', -1],
      [Buffer.from([0xc1]), 'INVALID_REQUEST', -1],
      [Buffer.from(encodeMessage({ kind: 'request', id: 1, method: 'engine.explode', params: {} })), 'INVALID_REQUEST', 1],
      [Buffer.from(encodeMessage({ kind: 'request', id: 2, method: 'images.classify', params: { images: ['/etc/passwd'] } })), 'INVALID_REQUEST', 2],
      [
        Buffer.from(encodeMessage({ kind: 'request', id: 3, method: 'images.thumbnail', params: { image: 'img_aaaaaaaaaaaa', size: 64, extra: 1 } })),
        'INVALID_REQUEST',
        3,
      ],
      [Buffer.from(encodeMessage({ kind: 'request', id: 4, method: 'batch.start', params: { folder: 'dir_aaaaaaaaaaaa', top: 99 } })), 'INVALID_REQUEST', 4],
      [Buffer.from(encodeMessage({ kind: 'request', id: 5, method: 'engine.status', params: { pad: 'x'.repeat(MAX_REQUEST_BYTES) } })), 'REQUEST_TOO_LARGE', 5],
      [Buffer.from(encodeMessage({ kind: 'event', id: 6, method: 'engine.status', params: {} })), 'INVALID_REQUEST', 6],
    ];
    for (const [frame, code, id] of cases) {
      const reply = await exchange(ws, frame);
      expect(reply.kind).toBe('response');
      if (reply.kind !== 'response' || reply.ok) throw new Error('expected an error response');
      expect(reply.error.code).toBe(code);
      expect(reply.id).toBe(id);
    }
    expect(calls.length).toBe(before);
    ws.close();
  });

  it('forwards valid requests, carries Float32Array results, keeps engine error codes, adds the host notice, and pushes events', async () => {
    const { ws } = await connect(`?token=${server.token}`);
    if (!ws) throw new Error('no connection');
    const channel = await exchange(
      ws,
      Buffer.from(encodeMessage({ kind: 'request', id: 10, method: 'features.channel', params: { image: 'img_aaaaaaaaaaaa', stage: 'layer2', channel: 3 } })),
    );
    expect(channel).toMatchObject({ kind: 'response', id: 10, ok: true });
    const data = (channel as { result: { data: Float32Array } }).result.data;
    expect(data).toBeInstanceOf(Float32Array);
    expect([...data]).toEqual([0.25, 1]);
    expect(calls.at(-1)).toEqual({ method: 'features.channel', params: { image: 'img_aaaaaaaaaaaa', stage: 'layer2', channel: 3 } });

    const failed = await exchange(
      ws,
      Buffer.from(encodeMessage({ kind: 'request', id: 11, method: 'images.classify', params: { images: ['img_aaaaaaaaaaaa'] } })),
    );
    expect(failed).toMatchObject({ kind: 'response', id: 11, ok: false, error: { code: 'MODEL_NOT_FOUND' } });

    server.notice = 'could not load resnet50: offline';
    const status = await exchange(ws, Buffer.from(encodeMessage({ kind: 'request', id: 12, method: 'engine.status', params: {} })));
    expect(status).toMatchObject({ ok: true, result: { model: null, notice: 'could not load resnet50: offline' } });
    server.notice = undefined;

    const event = new Promise<ServerMessage>((resolve) => ws.once('message', (d) => resolve(decodeMessage(d as Buffer) as ServerMessage)));
    host.emit('model.progress', { name: 'resnet50', phase: 'download', received: 10, total: 100 });
    expect(await event).toEqual({ kind: 'event', event: 'model.progress', payload: { name: 'resnet50', phase: 'download', received: 10, total: 100 } });
    ws.close();
  });
});

describe('issue 14 hardening (real server, stand-in service)', () => {
  it('#8 checks a frame’s byte length before decoding it, and bounds the decoder', async () => {
    const { ws } = await connect(`?token=${server.token}`);
    if (!ws) throw new Error('no connection');
    // A 900 KB frame whose body is not valid MessagePack: decoding it first would answer "malformed";
    // the size check first answers REQUEST_TOO_LARGE, still naming the request's id.
    const head = Buffer.from(encodeMessage({ kind: 'request', id: 77 }));
    head[0] = 0x84; // a map of four entries: kind, id, then 900 KB of bytes that are not MessagePack (0xc1)
    const frame = Buffer.concat([head, Buffer.alloc(900 * 1024, 0xc1)]);
    const before = calls.length;
    const reply = await exchange(ws, frame);
    expect(reply).toMatchObject({ kind: 'response', id: 77, ok: false, error: { code: 'REQUEST_TOO_LARGE' } });
    // Deep nesting inside the size limit is refused by the decoder's depth check, not by a stack overflow.
    // params.a = [[[[…1…]]]] 5000 deep, written by hand (encoders refuse it): 0x91 is a one-element array.
    const shallow = Buffer.from(encodeMessage({ kind: 'request', id: 78, method: 'engine.status', params: { a: 0 } }));
    const deepFrame = Buffer.concat([shallow.subarray(0, -1), Buffer.alloc(5000, 0x91), Buffer.from([0x01])]);
    const nested = await exchange(ws, deepFrame);
    expect(nested).toMatchObject({ kind: 'response', ok: false, error: { code: 'INVALID_REQUEST' } });
    expect(calls.length).toBe(before);
    ws.close();
  });

  it('#17 host names are case-insensitive (Host: LOCALHOST:port), other hosts still refused', async () => {
    const t = { 'x-reslens-token': server.token };
    expect((await request(server.port, { path: '/', headers: { ...t, host: `LOCALHOST:${server.port}` } })).status).toBe(200);
    expect((await request(server.port, { path: '/', headers: { ...t, host: `LocalHost.evil:${server.port}` } })).status).toBe(403);
  });

  it('#3 uploads have a total quota and a count limit (QUOTA_EXCEEDED), and a released upload frees its space', async () => {
    const small = await ReslensServer.start({
      staticDir,
      root,
      uploadLimitBytes: 1000,
      uploadQuota: { totalBytes: 2500, maxFiles: 3 },
      log: () => undefined,
      createService: () => ({ handle: async () => ({}) }),
    });
    try {
      const t = { 'x-reslens-token': small.token };
      const upload = (bytes: number) => request(small.port, { method: 'POST', path: '/api/upload?name=a.jpg', headers: t, body: Buffer.alloc(bytes, 1) });
      const first = json(await upload(900)) as { image: string };
      await upload(900);
      const full = await upload(900);
      expect(full.status).toBe(507);
      expect(json(full).error).toMatchObject({ code: 'QUOTA_EXCEEDED' });
      expect(small.uploads.used).toBe(1800);
      const released = await request(small.port, { method: 'DELETE', path: `/api/upload?image=${first.image}`, headers: t });
      expect(json(released)).toEqual({ released: 1 });
      expect(small.uploads.used).toBe(900);
      expect((await upload(900)).status).toBe(201);
      expect((await upload(100)).status).toBe(201);
      const tooMany = await upload(10);
      expect(tooMany.status).toBe(507); // the fourth file: over maxFiles
      // Nothing is left behind on stop.
      const folder = await small.uploads.folder();
      await small.close();
      await expect(stat(folder)).rejects.toThrow();
    } finally {
      await small.close().catch(() => undefined);
    }
  });
});
