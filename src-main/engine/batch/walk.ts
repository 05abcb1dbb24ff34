// Expands the user's arguments (files and folders) into image paths: folders recursively, in a
// stable order (names sorted by code unit, folder by folder), each real folder once (symlink cycles
// and second links to the same folder are not followed twice), skipping hidden files and the files
// and folders operating systems and NAS boxes leave in photo libraries.
//
// Images are recognised by content: a file with an image extension is always listed (so a broken
// `.jpg` gets its own error later); any other file is listed only when its first bytes are a raster
// image signature (photos exported without an extension, `IMG_0001.JPG_original`, …). SVG, PDF and
// other non-raster files without an image extension are left out.
import { type Dirent } from 'node:fs';
import { open, readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { type ErrorInfo } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import { sniffImage } from '../preprocess/sniff.js';
import { isSameOrBelow } from './containment.js';

export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.jpe', '.jfif', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif', '.heic', '.heif']);
/** Files operating systems leave in photo folders; never images even when not dot-prefixed. */
const SYSTEM_FILES = new Set(['thumbs.db', 'ehthumbs.db', 'desktop.ini', 'icon\r']);
/** Folders that hold system data or thumbnails of the real photos (Windows, macOS zips, Synology/QNAP). */
const SYSTEM_FOLDERS = new Set(['$recycle.bin', 'system volume information', 'lost+found', '__macosx', '@eadir', '.@__thumb', '@recycle', '#recycle']);

export type { WalkItem } from '../core/files.js';
import type { WalkItem } from '../core/files.js';

export interface WalkOptions {
  /** Follow symbolic links to files and folders (default true); each real folder is still walked once. */
  followSymlinks?: boolean;
  /** Include hidden (dot) files and folders and system files (default false). */
  includeHidden?: boolean;
  /** Folders never to walk into (e.g. where a batch organises its copies, inside the photo folder). */
  exclude?: readonly string[];
  /**
   * Confine the walk: every file and folder must resolve (realpath, links followed) under this folder;
   * the rest is left out, as the folder picker hides it (browser mode's --root).
   */
  within?: string;
}

type ResolvedWalkOptions = Required<Omit<WalkOptions, 'exclude' | 'within'>> & { exclude: Set<string>; within?: string };

/** With `within`: whether `full` really lies there (a link leading out of --root does not). */
async function confined(full: string, options: ResolvedWalkOptions): Promise<boolean> {
  if (options.within === undefined) return true;
  const real = await realpath(full).catch(() => null);
  return real !== null && isSameOrBelow(real, options.within);
}

async function looksLikeImage(file: string): Promise<boolean> {
  if (IMAGE_EXTENSIONS.has(path.extname(file).toLowerCase())) return true;
  // No image extension (e.g. exported without one): decide by content.
  let handle;
  try {
    handle = await open(file, 'r');
    const head = Buffer.alloc(32);
    const { bytesRead } = await handle.read(head, 0, 32, 0);
    return sniffImage(head.subarray(0, bytesRead)).kind === 'raster';
  } catch {
    return false;
  } finally {
    await handle?.close();
  }
}

export function notAFileError(): ErrorInfo {
  return { code: ErrorCode.NOT_A_FILE, message: 'not a regular file (a FIFO, device or socket): only image files can be read' };
}

function walkError(file: string, error: unknown): WalkItem {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ELOOP') return { path: file, error: { code: ErrorCode.SYMLINK_LOOP, message: 'symbolic link loop' } };
  if (code === 'ENOENT') return { path: file, error: { code: ErrorCode.FILE_NOT_FOUND, message: 'file not found (it may have been moved or deleted)' } };
  return { path: file, error: { code: ErrorCode.READ_FAILED, message: `cannot read: ${(error as Error).message}` } };
}

function skipped(entry: Dirent, options: ResolvedWalkOptions): boolean {
  if (options.includeHidden) return false;
  const name = entry.name.toLowerCase();
  return entry.name.startsWith('.') || SYSTEM_FILES.has(name) || SYSTEM_FOLDERS.has(name);
}

async function* walkFolder(folder: string, options: ResolvedWalkOptions, visited: Set<string>): AsyncGenerator<WalkItem> {
  let entries;
  try {
    entries = await readdir(folder, { withFileTypes: true });
  } catch (error) {
    yield walkError(folder, error);
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if (skipped(entry, options)) continue;
    const full = path.join(folder, entry.name);
    if (entry.isSymbolicLink() && !options.followSymlinks) continue;
    let info;
    try {
      info = entry.isSymbolicLink() ? await stat(full) : entry;
    } catch (error) {
      // A dangling link or a link to itself: report only where it claims to be an image.
      if (IMAGE_EXTENSIONS.has(path.extname(full).toLowerCase())) yield walkError(full, error);
      continue;
    }
    if (!(await confined(full, options))) continue;
    if (info.isDirectory()) {
      const real = await realpath(full).catch(() => full);
      if (visited.has(real) || options.exclude.has(real)) continue; // a cycle (or a second link to the same folder): each folder once
      visited.add(real);
      yield* walkFolder(full, options, visited);
    } else if (info.isFile() && (await looksLikeImage(full))) {
      yield { path: full };
    }
  }
}

/** Arguments as given: files are always tried (so a bad file gets its own error); folders are walked. */
export async function* walkInputs(inputs: readonly string[], options: WalkOptions = {}): AsyncGenerator<WalkItem> {
  const exclude = new Set<string>();
  for (const folder of options.exclude ?? []) exclude.add(await realpath(folder).catch(() => path.resolve(folder)));
  const within = options.within === undefined ? undefined : await realpath(options.within).catch(() => path.resolve(options.within as string));
  const resolved: ResolvedWalkOptions = {
    followSymlinks: options.followSymlinks ?? true,
    includeHidden: options.includeHidden ?? false,
    exclude,
    ...(within ? { within } : {}),
  };
  const visited = new Set<string>();
  for (const input of inputs) {
    let info;
    try {
      info = await stat(input);
    } catch (error) {
      yield walkError(input, error);
      continue;
    }
    if (!(await confined(input, resolved))) {
      yield { path: input, error: { code: ErrorCode.INVALID_ARGUMENT, message: 'outside the folder this host may read' } };
      continue;
    }
    if (!info.isDirectory() && !info.isFile()) {
      // A FIFO would block the read forever, /dev/zero would never end: refuse before opening.
      yield { path: input, error: notAFileError() };
      continue;
    }
    if (info.isDirectory()) {
      const real = await realpath(input).catch(() => input);
      if (visited.has(real)) continue; // the same folder given twice (or inside one already walked)
      visited.add(real);
      yield* walkFolder(input, resolved, visited);
    } else {
      yield { path: input };
    }
  }
}

export interface CountProgress {
  /** Items found so far. */
  count: number;
  /** True once the whole tree has been walked. */
  final: boolean;
}

/**
 * Walks the same inputs ahead of the real work, only counting, so progress has a total early. Calls
 * `onCount` at most every `intervalMs` and once at the end; stops early when `signal` aborts.
 */
export async function countInputs(
  inputs: readonly string[],
  options: WalkOptions & { signal?: AbortSignal; intervalMs?: number; onCount?: (progress: CountProgress) => void } = {},
): Promise<number> {
  const interval = options.intervalMs ?? 200;
  let count = 0;
  let last = performance.now();
  for await (const _item of walkInputs(inputs, options)) {
    if (options.signal?.aborted) return count;
    count++;
    const now = performance.now();
    if (now - last >= interval) {
      last = now;
      options.onCount?.({ count, final: false });
    }
  }
  options.onCount?.({ count, final: true });
  return count;
}
