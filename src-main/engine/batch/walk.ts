// Expands the user's arguments (files and folders) into image paths: folders recursively, in a
// stable order, without following a symlink cycle twice, skipping hidden files and non-images.
import { open, readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { type ErrorInfo, ErrorCode } from '../errors.js';
import { sniffImage } from '../preprocess/sniff.js';

export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.jpe', '.jfif', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif', '.heic', '.heif']);
/** Files operating systems leave in photo folders; never images even when not dot-prefixed. */
const SYSTEM_FILES = new Set(['thumbs.db', 'desktop.ini', 'icon\r']);

export type WalkItem = { path: string } | { path: string; error: ErrorInfo };

export interface WalkOptions {
  followSymlinks?: boolean;
  includeHidden?: boolean;
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

function walkError(file: string, error: unknown): WalkItem {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ELOOP') return { path: file, error: { code: ErrorCode.SYMLINK_LOOP, message: 'symbolic link loop' } };
  if (code === 'ENOENT') return { path: file, error: { code: ErrorCode.FILE_NOT_FOUND, message: 'file not found (it may have been moved or deleted)' } };
  return { path: file, error: { code: ErrorCode.READ_FAILED, message: `cannot read: ${(error as Error).message}` } };
}

async function* walkFolder(folder: string, options: WalkOptions, visited: Set<string>): AsyncGenerator<WalkItem> {
  let entries;
  try {
    entries = await readdir(folder, { withFileTypes: true });
  } catch (error) {
    yield walkError(folder, error);
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if (!options.includeHidden && (entry.name.startsWith('.') || SYSTEM_FILES.has(entry.name.toLowerCase()))) continue;
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
    if (info.isDirectory()) {
      const real = await realpath(full).catch(() => full);
      if (visited.has(real)) continue; // a cycle (or a second link to the same folder): each folder once
      visited.add(real);
      yield* walkFolder(full, options, visited);
    } else if (info.isFile() && (await looksLikeImage(full))) {
      yield { path: full };
    }
  }
}

/** Arguments as given: files are always tried (so a bad file gets its own error); folders are walked. */
export async function* walkInputs(inputs: readonly string[], options: WalkOptions = {}): AsyncGenerator<WalkItem> {
  const resolved = { followSymlinks: options.followSymlinks ?? true, includeHidden: options.includeHidden ?? false };
  const visited = new Set<string>();
  for (const input of inputs) {
    let info;
    try {
      info = await stat(input);
    } catch (error) {
      yield walkError(input, error);
      continue;
    }
    if (info.isDirectory()) {
      visited.add(await realpath(input).catch(() => input));
      yield* walkFolder(input, resolved, visited);
    } else {
      yield { path: input };
    }
  }
}
