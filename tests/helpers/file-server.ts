// A real HTTP server on 127.0.0.1 (port 0) serving byte buffers, with the misbehaviours downloads
// must survive: dropped connections, stalls, servers that ignore Range, errors and redirects.
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RequestRecord {
  path: string;
  range: string | undefined;
  acceptEncoding: string | undefined;
}

/** What the server does with the n-th request (0-based) for a path; unspecified → serve normally. */
export interface Behaviour {
  /** Send this many body bytes, then destroy the socket. */
  dropAfter?: number;
  /** Send this many body bytes, then go silent (keep the connection open). */
  stallAfter?: number;
  /** Answer with this status and a short text body. */
  status?: number;
  /** Serve the whole file with 200 even when a Range is asked for. */
  ignoreRange?: boolean;
}

export interface FileServer {
  url(path: string): string;
  requests: RequestRecord[];
  /** Per path, per request index. */
  behaviours: Map<string, Behaviour[]>;
  /** Paths that answer 302 to another path. */
  redirects: Map<string, string>;
  /** Serve every request of a path with 200 even when a Range is asked for. */
  ignoreRangeFor: Set<string>;
  /** Forget requests and behaviours (between tests). */
  reset(): void;
  close(): Promise<void>;
}

export function testPayload(bytes: number, seed = 1): { body: Buffer; sha256: string } {
  // Deterministic but incompressible-looking content.
  const body = Buffer.alloc(bytes);
  let block = createHash('sha256').update(`seed-${seed}`).digest();
  for (let offset = 0; offset < bytes; offset += block.length) {
    block.copy(body, offset, 0, Math.min(block.length, bytes - offset));
    block = createHash('sha256').update(block).digest();
  }
  return { body, sha256: createHash('sha256').update(body).digest('hex') };
}

export const randomSha256 = (): string => randomBytes(32).toString('hex');

export async function startFileServer(files: Record<string, Buffer>): Promise<FileServer> {
  const requests: RequestRecord[] = [];
  const behaviours = new Map<string, Behaviour[]>();
  const redirects = new Map<string, string>();
  const ignoreRangeFor = new Set<string>();
  const seen = new Map<string, number>();

  const server = http.createServer((req, res) => {
    const urlPath = new URL(req.url ?? '/', 'http://localhost').pathname;
    requests.push({ path: urlPath, range: req.headers.range, acceptEncoding: req.headers['accept-encoding'] });
    const index = seen.get(urlPath) ?? 0;
    seen.set(urlPath, index + 1);

    const target = redirects.get(urlPath);
    if (target !== undefined) {
      res.writeHead(302, { location: target });
      res.end();
      return;
    }
    const behaviour = behaviours.get(urlPath)?.[index] ?? {};
    const body = files[urlPath];
    if (behaviour.status !== undefined || body === undefined) {
      const status = behaviour.status ?? 404;
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(`status ${status}\n`);
      return;
    }

    let start = 0;
    let status = 200;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range && !behaviour.ignoreRange && !ignoreRangeFor.has(urlPath)) {
      start = Number(range[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` });
        res.end();
        return;
      }
      status = 206;
    }
    const slice = body.subarray(start);
    const headers: http.OutgoingHttpHeaders = {
      'content-type': 'application/octet-stream',
      'content-length': slice.length,
      'accept-ranges': 'bytes',
    };
    if (status === 206) headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
    res.writeHead(status, headers);

    const cut = behaviour.dropAfter ?? behaviour.stallAfter;
    if (cut === undefined) {
      res.end(slice);
      return;
    }
    res.write(slice.subarray(0, cut), () => {
      if (behaviour.dropAfter !== undefined) setTimeout(() => res.socket?.destroy(), 20);
      // stallAfter: leave the response open; close() ends it.
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    requests,
    behaviours,
    redirects,
    ignoreRangeFor,
    reset: () => {
      requests.length = 0;
      behaviours.clear();
      redirects.clear();
      ignoreRangeFor.clear();
      seen.clear();
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
