// Browser mode: the built renderer and the engine's API on 127.0.0.1, behind a per-run token.
//
//   GET  /?token=T            the page (sets an HttpOnly, SameSite=Strict page cookie: a value derived
//                             from the token that opens static files only, never the API)
//   GET  /assets/…            the renderer's files (page cookie, ?token= or X-Reslens-Token)
//   POST /api/upload?name=N   one file's bytes → { image: img_…, name } (QUOTA_EXCEEDED when uploads are full)
//   DELETE /api/upload?image=img_…   the page no longer shows these images: their files go
//   GET  /api/folders[?folder=dir_…]            the folder picker, limited to --root
//   POST /api/folders?parent=dir_…&name=N       new subfolder (organise destinations)
//   WS   /api/ws              MessagePack frames carrying the contract's envelope
//
// Every request without the token is refused (401), and so is every request whose Host or Origin
// is not this server (403: DNS rebinding, cross-site pages). Every WebSocket message is size-checked
// and validated with the contract's schemas before it reaches the service.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type WebSocket, WebSocketServer } from 'ws';
import {
  type EngineEvents,
  type EngineStatus,
  type ErrorValue,
  type EventName,
  MAX_REQUEST_BYTES,
  type ServerMessage,
  validateRequest,
} from '../api/contract.js';
import { EngineError, ErrorCode } from '../engine/index.js';
import type { ServiceHost } from '../service/engine-service.js';
import type { ForwardingHandler } from '../api/handler.js';
import { decodeRequestFrame, encodeMessage, peekRequestId } from '../api/codec.js';
import { FolderError, FolderGrants } from './folders.js';
import { findStatic } from './static-files.js';
import { DEFAULT_UPLOAD_LIMIT, MAX_UPLOADS, UploadError, type UploadQuota, UploadStore } from './uploads.js';

/** What the server needs from the engine service (EngineService, or a stand-in in unit tests). */
export interface ServiceLike extends ForwardingHandler {
  /** How many pages are connected now (the service cancels orphaned batches after a grace period). */
  connectionsChanged?(count: number): void;
  /** A photo is being uploaded: the user waits for it (the engine's priority lane, EngineService.expectInteractive). */
  expectInteractive?(): void;
}

export interface ReslensServerOptions {
  /** The built renderer (vite build output). */
  staticDir: string;
  /** Folders under this one may be chosen for batch mode. */
  root: string;
  port?: number;
  token?: string;
  uploadLimitBytes?: number;
  /** All uploads together (default: uploads.ts defaultUploadQuota) and their count. */
  uploadQuota?: Partial<UploadQuota>;
  createService(host: ServiceHost): ServiceLike;
  log?: (line: string) => void;
}

/** Largest WebSocket frame read at all; frames over MAX_REQUEST_BYTES but under this get an error response. */
const MAX_FRAME_BYTES = 1024 * 1024;

const sameToken = (given: string | undefined, token: string): boolean => {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
};

function cookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return out;
}

export class ReslensServer {
  readonly token: string;
  readonly uploads: UploadStore;
  readonly folders: FolderGrants;
  readonly service: ServiceLike;
  /** Host-level note merged into engine.status while no model is loaded (e.g. why the initial model failed). */
  notice?: string;
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly clients = new Set<WebSocket>();
  private portNumber = 0;

  private constructor(private readonly options: ReslensServerOptions) {
    this.token = options.token ?? randomBytes(24).toString('base64url');
    this.uploads = new UploadStore(options.uploadLimitBytes ?? DEFAULT_UPLOAD_LIMIT, options.uploadQuota);
    this.folders = new FolderGrants(options.root);
    this.service = options.createService({
      resolveImage: (id) => this.uploads.resolve(id),
      resolveFolder: (id) => this.folders.resolve(id),
      batchRoot: options.root,
      emit: (event, payload) => this.broadcast(event, payload),
    });
    this.http = createServer((req, res) => {
      this.route(req, res).catch((error: unknown) => {
        this.log(`request ${req.method} ${req.url} failed: ${(error as Error).stack ?? String(error)}`);
        if (!res.headersSent) this.json(res, 500, { error: { code: ErrorCode.INTERNAL, message: (error as Error).message } });
        else res.destroy();
      });
    });
    this.http.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    this.wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  }

  static async start(options: ReslensServerOptions): Promise<ReslensServer> {
    const server = new ReslensServer(options);
    await server.folders.rootPath(); // fail early on a missing --root
    await new Promise<void>((resolve, reject) => {
      server.http.once('error', reject);
      server.http.listen(options.port ?? 0, '127.0.0.1', () => {
        server.http.off('error', reject);
        resolve();
      });
    });
    server.portNumber = (server.http.address() as AddressInfo).port;
    return server;
  }

  get port(): number {
    return this.portNumber;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The one URL a user needs: the page with the token. */
  get url(): string {
    return `${this.origin}/?token=${this.token}`;
  }

  private get cookieName(): string {
    return `reslens-${this.port}`; // cookies ignore ports: one name per server
  }

  async close(): Promise<void> {
    for (const client of this.clients) client.terminate();
    this.wss.close();
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
    await this.uploads.dispose();
  }

  // -------------------------------------------------------------------------------------------
  // Checks shared by HTTP and WebSocket.

  private log(line: string): void {
    (this.options.log ?? ((l: string) => process.stderr.write(`${l}\n`)))(line);
  }

  // Host names are case-insensitive (RFC 9110 §4.2.3): `Host: LOCALHOST:port` is this server too.
  private allowedHost(req: IncomingMessage): boolean {
    const host = req.headers.host?.toLowerCase();
    return host === `127.0.0.1:${this.port}` || host === `localhost:${this.port}`;
  }

  private allowedOrigin(req: IncomingMessage): boolean {
    const origin = req.headers.origin?.toLowerCase();
    return origin === undefined || origin === `http://127.0.0.1:${this.port}` || origin === `http://localhost:${this.port}`;
  }

  /**
   * The page cookie never holds the token: browsers send a 127.0.0.1 cookie to every port on that
   * host, so any other local web service would receive it. It holds a value derived from the token
   * that opens only the page and its static assets (the public renderer build, no user data); the API
   * and the WebSocket need the token itself (header or query, kept in the tab's sessionStorage).
   */
  private get pageCookieValue(): string {
    return createHmac('sha256', this.token).update('reslens page cookie').digest('base64url');
  }

  /** Where the token came from, or null when none of the places holds the right one. */
  private tokenSource(req: IncomingMessage, url: URL): 'query' | 'header' | 'cookie' | null {
    if (sameToken(url.searchParams.get('token') ?? undefined, this.token)) return 'query';
    const header = req.headers['x-reslens-token'];
    if (sameToken(Array.isArray(header) ? header[0] : header, this.token)) return 'header';
    if (sameToken(cookies(req.headers.cookie).get(this.cookieName), this.pageCookieValue)) return 'cookie';
    return null;
  }

  private securityHeaders(res: ServerResponse): void {
    const ws = `ws://127.0.0.1:${this.port} ws://localhost:${this.port}`;
    res.setHeader(
      'Content-Security-Policy',
      `default-src 'self'; img-src 'self' blob: data:; connect-src 'self' ${ws}; style-src 'self'; script-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    );
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
    res.end(text);
  }

  private fail(res: ServerResponse, status: number, code: string, message: string): void {
    this.json(res, status, { error: { code, message } });
  }

  // -------------------------------------------------------------------------------------------
  // HTTP

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.securityHeaders(res);
    if (!this.allowedHost(req)) return this.fail(res, 403, 'FORBIDDEN', 'this server answers only to 127.0.0.1');
    const url = new URL(req.url ?? '/', this.origin);
    const found = this.tokenSource(req, url);
    // The page cookie opens static files only (see pageCookieValue).
    const source = found === 'cookie' && url.pathname.startsWith('/api/') ? null : found;
    if (!source) {
      const message = 'open the URL that `npm run serve` printed: it carries this run’s token';
      if (url.pathname.startsWith('/api/')) return this.fail(res, 401, 'UNAUTHORIZED', message);
      const text = `401 Unauthorized\n\nResLens: ${message}.\n`;
      res.writeHead(401, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
      return void res.end(text);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD' && !this.allowedOrigin(req)) return this.fail(res, 403, 'FORBIDDEN', 'cross-origin request refused');

    const method = req.method ?? 'GET';
    if (url.pathname === '/api/upload') {
      if (method === 'DELETE') {
        // The page closed the cards using these images (?image=img_…, repeatable): free their space now.
        const ids = url.searchParams.getAll('image').slice(0, MAX_UPLOADS);
        return this.json(res, 200, { released: await this.uploads.release(ids) });
      }
      if (method !== 'POST') return this.fail(res, 405, 'METHOD_NOT_ALLOWED', 'POST the file’s bytes');
      const name = url.searchParams.get('name') ?? 'image';
      try {
        // Held from the upload's start and again at its end: its classify request follows at once.
        this.service.expectInteractive?.();
        const received = await this.uploads.receive(req, name);
        this.service.expectInteractive?.();
        this.json(res, 201, received);
      } catch (error) {
        if (!(error instanceof UploadError)) throw error;
        res.setHeader('Connection', 'close'); // do not read the rest of an oversized body
        this.fail(res, error.status, error.code, error.message);
      }
      return;
    }
    if (url.pathname === '/api/folders') {
      try {
        if (method === 'GET') return this.json(res, 200, await this.folders.list(url.searchParams.get('folder') ?? undefined));
        if (method === 'POST') return this.json(res, 201, await this.folders.create(url.searchParams.get('parent') ?? '', url.searchParams.get('name') ?? ''));
      } catch (error) {
        if (error instanceof FolderError) return this.fail(res, error.status, error.code, error.message);
        throw error;
      }
      return this.fail(res, 405, 'METHOD_NOT_ALLOWED', 'GET or POST');
    }
    if (url.pathname.startsWith('/api/')) return this.fail(res, 404, 'NOT_FOUND', 'no such endpoint');
    if (method !== 'GET' && method !== 'HEAD') return this.fail(res, 405, 'METHOD_NOT_ALLOWED', 'GET only');

    const file = await findStatic(this.options.staticDir, url.pathname === '/index.html' ? '/' : url.pathname);
    if (!file) return this.fail(res, 404, 'NOT_FOUND', `${url.pathname} not found`);
    const headers: Record<string, string | number> = {
      'Content-Type': file.type,
      'Content-Length': file.size,
      'Cache-Control': file.immutable ? 'private, max-age=31536000, immutable' : 'no-cache',
    };
    if (source === 'query' && file.type.startsWith('text/html')) {
      headers['Set-Cookie'] = `${this.cookieName}=${this.pageCookieValue}; Path=/; HttpOnly; SameSite=Strict`;
    }
    res.writeHead(200, headers);
    if (method === 'HEAD') return void res.end();
    await pipeline(file.open(), res);
  }

  // -------------------------------------------------------------------------------------------
  // WebSocket

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const refuse = (status: 401 | 403 | 404, text: string) => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    const url = new URL(req.url ?? '/', this.origin);
    if (url.pathname !== '/api/ws') return refuse(404, 'Not Found');
    if (!this.allowedHost(req) || !this.allowedOrigin(req)) return refuse(403, 'Forbidden');
    const source = this.tokenSource(req, url);
    if (source !== 'query' && source !== 'header') return refuse(401, 'Unauthorized');
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.clients.add(ws);
      this.service.connectionsChanged?.(this.clients.size);
      // A closed page's requests are abandoned: work not yet started for it is skipped.
      const gone = new AbortController();
      const closed = () => {
        gone.abort();
        if (this.clients.delete(ws)) this.service.connectionsChanged?.(this.clients.size);
      };
      ws.on('close', closed);
      ws.on('error', closed);
      ws.on('message', (data, isBinary) => {
        void this.onMessage(ws, data as Buffer, isBinary, gone.signal);
      });
    });
  }

  private send(ws: WebSocket, message: ServerMessage): void {
    if (ws.readyState !== ws.OPEN) return;
    let frame: Uint8Array;
    try {
      frame = encodeMessage(message);
    } catch (error) {
      if (message.kind !== 'response') throw error;
      frame = encodeMessage({
        kind: 'response',
        id: message.id,
        ok: false,
        error: { code: ErrorCode.INTERNAL, message: `result could not be encoded: ${(error as Error).message}` },
      });
    }
    ws.send(frame, { binary: true });
  }

  private async onMessage(ws: WebSocket, data: Buffer, isBinary: boolean, signal?: AbortSignal): Promise<void> {
    const reject = (id: number | null, error: ErrorValue) => this.send(ws, { kind: 'response', id: id ?? -1, ok: false, error });
    if (!isBinary) return reject(null, { code: 'INVALID_REQUEST', message: 'requests are binary MessagePack frames' });
    // Size first, then a bounded decode (codec.ts): nothing large is parsed before it is refused.
    if (data.byteLength > MAX_REQUEST_BYTES) {
      return reject(peekRequestId(data), {
        code: 'REQUEST_TOO_LARGE',
        message: `request of ${data.byteLength} bytes is over the limit of ${MAX_REQUEST_BYTES}`,
      });
    }
    let message: unknown;
    try {
      message = decodeRequestFrame(data, MAX_REQUEST_BYTES);
    } catch (error) {
      return reject(null, { code: 'INVALID_REQUEST', message: `malformed frame: ${(error as Error).message}` });
    }
    const request = validateRequest(message);
    if (!request.ok) return reject(request.id, request.error);
    try {
      const result = await this.service.handle(request.method, request.params, { signal });
      this.send(ws, {
        kind: 'response',
        id: request.id,
        ok: true,
        result: request.method === 'engine.status' || request.method === 'models.select' ? this.withNotice(result as EngineStatus) : result,
      });
    } catch (error) {
      this.send(ws, { kind: 'response', id: request.id, ok: false, error: errorValue(error) });
    }
  }

  private withNotice(status: EngineStatus): EngineStatus {
    return this.notice && !status.model && !status.notice ? { ...status, notice: this.notice } : status;
  }

  /** Pushes an engine event to every connected page. */
  broadcast<E extends EventName>(event: E, payload: EngineEvents[E]): void {
    if (this.clients.size === 0) return;
    const body = event === 'engine.status' ? this.withNotice(payload as EngineStatus) : payload;
    const frame = encodeMessage({ kind: 'event', event, payload: body } satisfies ServerMessage);
    for (const client of this.clients) if (client.readyState === client.OPEN) client.send(frame, { binary: true });
  }
}

/** A thrown value as the contract's error value (engine errors keep their code). */
export function errorValue(error: unknown): ErrorValue {
  if (error instanceof EngineError) return error.toInfo();
  return { code: ErrorCode.INTERNAL, message: error instanceof Error ? error.message : String(error) };
}
