// Files the browser uploaded (dropped or chosen): each gets an img_ id and lives in a per-run temp
// folder under its original name (so messages about it read naturally), until the page releases it
// (DELETE /api/upload: its card was closed), it is evicted to make room, or the server stops.
//
// Bounded: one file ≤ the upload limit, all files together ≤ a quota (2 GB, or 10% of the temp
// volume's free space when that is less: ten 150 MB uploads once filled /tmp with 1.5 GB), at most
// MAX_UPLOADS files. A new upload that does not fit first evicts the least recently used uploads not
// touched for EVICT_IDLE_MS; if it still does not fit it is refused with QUOTA_EXCEEDED, which the
// page shows.
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm, statfs } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createRunDir, ErrorCode } from '../engine/index.js';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export const DEFAULT_UPLOAD_LIMIT = 200 * 1024 * 1024;
export const DEFAULT_UPLOAD_QUOTA = 2 * 1024 * 1024 * 1024;
export const MAX_UPLOADS = 1000;
/** An upload not used for this long may be evicted to make room (a card open on the page uses its image). */
export const EVICT_IDLE_MS = 10 * 60 * 1000;

/** The default quota: 2 GB, or a tenth of the temp volume's free space when that is smaller. */
export async function defaultUploadQuota(dir = os.tmpdir()): Promise<number> {
  try {
    const fs = await statfs(dir);
    return Math.max(64 * 1024 * 1024, Math.min(DEFAULT_UPLOAD_QUOTA, Math.floor((fs.bavail * fs.bsize) / 10)));
  } catch {
    return DEFAULT_UPLOAD_QUOTA;
  }
}

interface StoredUpload {
  path: string;
  name: string;
  bytes: number;
  lastUsed: number;
}

export class UploadError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A display name that is safe as one path component: no separators or control characters, ≤ 200 bytes. */
export function safeFileName(name: string): string {
  // eslint-disable-next-line no-control-regex
  let clean = name.replace(/[\u0000-\u001f\u007f/\\]/g, '_').trim();
  if (clean === '' || clean === '.' || clean === '..') clean = 'image';
  if (Buffer.byteLength(clean) > 200) {
    const ext = path.extname(clean).slice(0, 16);
    let stem = clean.slice(0, clean.length - ext.length);
    while (Buffer.byteLength(stem + ext) > 200) stem = stem.slice(0, -1);
    clean = stem + ext;
  }
  return clean;
}

export const newId = (prefix: string): string => `${prefix}_${randomBytes(12).toString('base64url')}`;

export interface UploadQuota {
  /** All uploads together (bytes). */
  totalBytes: number;
  maxFiles: number;
}

export class UploadStore {
  private readonly files = new Map<string, StoredUpload>();
  private dir?: Promise<string>;
  /** Bytes on disk plus bytes reserved by uploads in progress. */
  private usedBytes = 0;
  private receiving = 0;
  private readonly quota: UploadQuota;

  constructor(
    private readonly limitBytes = DEFAULT_UPLOAD_LIMIT,
    quota: Partial<UploadQuota> = {},
  ) {
    this.quota = { totalBytes: quota.totalBytes ?? DEFAULT_UPLOAD_QUOTA, maxFiles: quota.maxFiles ?? MAX_UPLOADS };
  }

  get limit(): number {
    return this.limitBytes;
  }

  /** Bytes the uploads hold now (for tests and the soak check). */
  get used(): number {
    return this.usedBytes;
  }

  /** The per-run folder (private mkdtemp, created on first use). */
  folder(): Promise<string> {
    this.dir ??= createRunDir('uploads');
    return this.dir;
  }

  /** The page closed the cards that used these images: their files go now. */
  async release(ids: readonly string[]): Promise<number> {
    let removed = 0;
    for (const id of ids) if (await this.remove(id)) removed++;
    return removed;
  }

  private async remove(id: string): Promise<boolean> {
    const file = this.files.get(id);
    if (!file) return false;
    this.files.delete(id);
    this.usedBytes -= file.bytes;
    await rm(path.dirname(file.path), { recursive: true, force: true });
    return true;
  }

  /** Makes room for `bytes` more (and one more file): idle uploads go, least recently used first. */
  private async makeRoom(bytes: number): Promise<boolean> {
    const fits = () => this.usedBytes + bytes <= this.quota.totalBytes && this.files.size + this.receiving < this.quota.maxFiles;
    if (fits()) return true;
    const now = Date.now();
    const candidates = [...this.files.entries()].filter(([, f]) => now - f.lastUsed >= EVICT_IDLE_MS).sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    for (const [id] of candidates) {
      if (fits()) break;
      await this.remove(id);
    }
    return fits();
  }

  private quotaError(): UploadError {
    const gb = (n: number) => (n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(1)} GB` : `${Math.round(n / 1024 ** 2)} MB`);
    return new UploadError(
      507,
      ErrorCode.QUOTA_EXCEEDED,
      `uploads are limited to ${gb(this.quota.totalBytes)} and ${this.quota.maxFiles} files in all while the server runs (${gb(this.usedBytes)} in use): close some images first`,
    );
  }

  /** Streams one request body to disk; refuses bodies over the limit or the quota without reading them whole. */
  async receive(request: IncomingMessage, originalName: string): Promise<{ image: string; name: string }> {
    const declared = Number(request.headers['content-length'] ?? Number.NaN);
    if (Number.isFinite(declared) && declared > this.limitBytes) throw this.tooLarge();
    // Reserve the declared size (or nothing for a chunked body: the stream counter checks as it goes).
    const reserve = Number.isFinite(declared) && declared > 0 ? declared : 0;
    if (!(await this.makeRoom(reserve))) throw this.quotaError();
    this.usedBytes += reserve;
    this.receiving++;
    try {
      return await this.receiveReserved(request, originalName, reserve);
    } finally {
      this.receiving--;
    }
  }

  private async receiveReserved(request: IncomingMessage, originalName: string, reserved: number): Promise<{ image: string; name: string }> {
    const name = safeFileName(originalName);
    const image = newId('img');
    const dir = path.join(await this.folder(), image);
    await mkdir(dir);
    const file = path.join(dir, name);
    let received = 0;
    let accounted = reserved;
    const limit = this.limitBytes;
    const counter = new Transform({
      transform: (chunk: Buffer, _encoding, callback) => {
        received += chunk.length;
        if (received > limit) return callback(new UploadError(413, 'FILE_TOO_LARGE', ''));
        if (received > accounted) {
          // Past the reservation (a chunked body): account as it grows, within the quota.
          if (this.usedBytes + (received - accounted) > this.quota.totalBytes) return callback(this.quotaError());
          this.usedBytes += received - accounted;
          accounted = received;
        }
        callback(null, chunk);
      },
    });
    try {
      await pipeline(request, counter, createWriteStream(file, { flags: 'wx', mode: 0o600 }));
    } catch (error) {
      this.usedBytes -= accounted;
      await rm(dir, { recursive: true, force: true });
      if (error instanceof UploadError) throw error.code === ErrorCode.QUOTA_EXCEEDED ? error : this.tooLarge();
      throw new UploadError(400, 'UPLOAD_FAILED', `upload of ${name} failed: ${(error as Error).message}`);
    }
    this.usedBytes += received - accounted;
    this.files.set(image, { path: file, name, bytes: received, lastUsed: Date.now() });
    return { image, name };
  }

  resolve(id: string): { path: string; name: string } | undefined {
    const file = this.files.get(id);
    if (!file) return undefined;
    file.lastUsed = Date.now();
    return { path: file.path, name: file.name };
  }

  async dispose(): Promise<void> {
    this.files.clear();
    this.usedBytes = 0;
    const dir = this.dir ? await this.dir.catch(() => undefined) : undefined;
    this.dir = undefined;
    if (dir) await rm(dir, { recursive: true, force: true });
  }

  private tooLarge(): UploadError {
    return new UploadError(413, 'FILE_TOO_LARGE', `file is larger than the upload limit of ${Math.round(this.limitBytes / (1024 * 1024))} MB`);
  }
}
