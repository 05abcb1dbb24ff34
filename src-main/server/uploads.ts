// Files the browser uploaded (dropped or chosen): each gets an img_ id and lives in a per-run temp
// folder under its original name (so messages about it read naturally), until the server stops.
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export const DEFAULT_UPLOAD_LIMIT = 200 * 1024 * 1024;

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

export class UploadStore {
  private readonly files = new Map<string, { path: string; name: string }>();
  private dir?: string;

  constructor(private readonly limitBytes = DEFAULT_UPLOAD_LIMIT) {}

  get limit(): number {
    return this.limitBytes;
  }

  /** The per-run folder (created on first use). */
  async folder(): Promise<string> {
    this.dir ??= await mkdtemp(path.join(os.tmpdir(), 'reslens-uploads-'));
    return this.dir;
  }

  /** Streams one request body to disk; refuses bodies over the limit without reading them whole. */
  async receive(request: IncomingMessage, originalName: string): Promise<{ image: string; name: string }> {
    const declared = Number(request.headers['content-length'] ?? Number.NaN);
    if (Number.isFinite(declared) && declared > this.limitBytes) throw this.tooLarge();
    const name = safeFileName(originalName);
    const image = newId('img');
    const dir = path.join(await this.folder(), image);
    await mkdir(dir);
    const file = path.join(dir, name);
    let received = 0;
    const limit = this.limitBytes;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        received += chunk.length;
        if (received > limit) callback(new UploadError(413, 'FILE_TOO_LARGE', ''));
        else callback(null, chunk);
      },
    });
    try {
      await pipeline(request, counter, createWriteStream(file, { flags: 'wx' }));
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      if (error instanceof UploadError) throw this.tooLarge();
      throw new UploadError(400, 'UPLOAD_FAILED', `upload of ${name} failed: ${(error as Error).message}`);
    }
    this.files.set(image, { path: file, name });
    return { image, name };
  }

  resolve(id: string): { path: string; name: string } | undefined {
    return this.files.get(id);
  }

  async dispose(): Promise<void> {
    this.files.clear();
    const dir = this.dir;
    this.dir = undefined;
    if (dir) await rm(dir, { recursive: true, force: true });
  }

  private tooLarge(): UploadError {
    return new UploadError(413, 'FILE_TOO_LARGE', `file is larger than the upload limit of ${Math.round(this.limitBytes / (1024 * 1024))} MB`);
  }
}
