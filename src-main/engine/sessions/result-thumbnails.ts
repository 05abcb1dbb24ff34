// Thumbnails of batch results for the gallery, made here so full photos never cross to the UI, and
// cached on disk so reopening a run of 2,000 photos does not decode 2,000 photos again.
//
// Only the engine decides which file a thumbnail is of: the caller names a result (run + row), the
// engine looks up the path in its own journal (see BatchJobs.resultFile). This module only turns a
// path it was given into a small JPEG, with the side bounded, and caches it keyed by what the file
// is now (real path, size, mtime): an edited photo gets a new thumbnail, a replaced one too.
//
// The cache is bounded: after every PRUNE_EVERY writes the oldest files go until it is under
// maxBytes. A ResNet-sized 256 px JPEG is ~10–20 KB, so the default 64 MB keeps ~4,000 of them.
import { createHash } from 'node:crypto';
import { lstat, mkdir, readFile, readdir, realpath, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import { replaceFile } from '../core/files.js';
import { type Thumbnail, thumbnailFile } from '../preprocess/thumbnail.js';

/** Thumbnail sides the gallery may ask for: any request is clamped into this range. */
export const MIN_THUMB = 32;
export const MAX_THUMB = 512;
export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;
const PRUNE_EVERY = 200;

export interface ThumbnailCacheOptions {
  dir: string;
  maxBytes?: number;
}

export class ThumbnailCache {
  private writes = 0;
  private pruning?: Promise<void>;

  constructor(private readonly options: ThumbnailCacheOptions) {}

  /** A JPEG of `file` whose longer side is at most `size` (clamped to MIN_THUMB..MAX_THUMB). */
  async get(file: string, size: number, item = path.basename(file)): Promise<Thumbnail> {
    const side = Math.min(MAX_THUMB, Math.max(MIN_THUMB, Math.round(Number.isFinite(size) ? size : MIN_THUMB)));
    // lstat first: a FIFO or device must not be opened (reading it can hang); readImageFile checks too.
    const info = await stat(file).catch((error: NodeJS.ErrnoException) => {
      throw new EngineError(
        error.code === 'ENOENT' ? ErrorCode.FILE_NOT_FOUND : ErrorCode.READ_FAILED,
        error.code === 'ENOENT' ? 'the photo is no longer there (moved or deleted since the run)' : `cannot read the photo (${error.code})`,
        { item },
      );
    });
    if (!info.isFile()) throw new EngineError(ErrorCode.NOT_A_FILE, 'not a regular file', { item });
    const real = await realpath(file);
    const key = createHash('sha256').update(`${real}\0${info.size}\0${info.mtimeMs}\0${side}`).digest('hex');
    const cached = path.join(this.options.dir, key.slice(0, 2), `${key}.jpg`);
    const hit = await this.read(cached);
    if (hit) return hit;
    const thumb = await thumbnailFile(file, side, item);
    await this.store(cached, thumb).catch(() => undefined); // a full disk costs the cache, not the thumbnail
    return thumb;
  }

  private async read(file: string): Promise<Thumbnail | undefined> {
    try {
      const info = await lstat(file);
      if (!info.isFile() || info.size > 4 * 1024 * 1024) return undefined;
      const bytes = await readFile(file);
      // Width and height come from the JPEG itself (its start-of-frame marker): nothing else to keep in step.
      const size = jpegSize(bytes);
      if (!size) return undefined;
      return { jpeg: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), ...size };
    } catch {
      return undefined;
    }
  }

  private async store(file: string, thumb: Thumbnail): Promise<void> {
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await replaceFile(file, thumb.jpeg, { mode: 0o600 });
    if (++this.writes % PRUNE_EVERY === 0) this.pruning ??= this.prune().finally(() => (this.pruning = undefined));
  }

  /** Removes the least recently written thumbnails until the cache is under its bound. */
  async prune(): Promise<void> {
    const max = this.options.maxBytes ?? DEFAULT_CACHE_BYTES;
    const files: { file: string; size: number; mtimeMs: number }[] = [];
    for (const sub of await readdir(this.options.dir).catch(() => [] as string[])) {
      const folder = path.join(this.options.dir, sub);
      for (const name of await readdir(folder).catch(() => [] as string[])) {
        const file = path.join(folder, name);
        const info = await lstat(file).catch(() => undefined);
        if (info?.isFile()) files.push({ file, size: info.size, mtimeMs: info.mtimeMs });
      }
    }
    let total = files.reduce((sum, f) => sum + f.size, 0);
    files.sort((a, b) => a.mtimeMs - b.mtimeMs);
    for (const f of files) {
      if (total <= max) break;
      await rm(f.file, { force: true });
      total -= f.size;
    }
  }
}

/** Width and height from a baseline or progressive JPEG's start-of-frame marker (undefined: not a JPEG we wrote). */
export function jpegSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  let i = 2;
  while (i + 9 < bytes.length) {
    if (bytes[i] !== 0xff) return undefined;
    const marker = bytes[i + 1];
    const length = (bytes[i + 2] << 8) | bytes[i + 3];
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      const height = (bytes[i + 5] << 8) | bytes[i + 6];
      const width = (bytes[i + 7] << 8) | bytes[i + 8];
      return width > 0 && height > 0 ? { width, height } : undefined;
    }
    i += 2 + length;
  }
  return undefined;
}
