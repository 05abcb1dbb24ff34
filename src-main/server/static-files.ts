// The built renderer, served from one folder: no directory listings, no paths outside it.
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

export interface StaticFile {
  file: string;
  size: number;
  type: string;
  /** Vite's content-hashed assets never change; everything else is revalidated. */
  immutable: boolean;
  open(): NodeJS.ReadableStream;
}

/** Maps a URL path to a file under `dir`, or undefined (the caller answers 404). */
export async function findStatic(dir: string, urlPath: string): Promise<StaticFile | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  const relative = decoded === '/' ? 'index.html' : decoded.replace(/^\/+/, '');
  const root = await realpath(dir).catch(() => undefined);
  if (!root) return undefined;
  const candidate = path.resolve(root, relative);
  if (!candidate.startsWith(root + path.sep)) return undefined;
  try {
    const real = await realpath(candidate);
    if (!real.startsWith(root + path.sep)) return undefined;
    const info = await stat(real);
    if (!info.isFile()) return undefined;
    const ext = path.extname(real).toLowerCase();
    return {
      file: real,
      size: info.size,
      type: TYPES[ext] ?? 'application/octet-stream',
      immutable: relative.startsWith('assets/'),
      open: () => createReadStream(real),
    };
  } catch {
    return undefined;
  }
}
