// Small questions about paths that several engine modules ask, and the one way the exports write a file.
import { randomBytes } from 'node:crypto';
import { open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ErrorInfo } from './errors.js';

/** Whether anything exists at `file` (a file or a folder). */
export async function pathExists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/** The size of the regular file at `file`, or null when there is none. */
export async function fileSize(file: string): Promise<number | null> {
  try {
    const info = await stat(file);
    return info.isFile() ? info.size : null;
  } catch {
    return null;
  }
}

/** A file to work on, as a folder walk yields it: a path, or a path with the reason it cannot be read. */
export type WalkItem = { path: string } | { path: string; error: ErrorInfo };

/** Whether `child` is `parent` itself or below it, comparing resolved path segments. */
export function isSameOrBelow(child: string, parent: string): boolean {
  const relative = path.relative(path.resolve(parent), path.resolve(child));
  return relative === '' || (!relative.startsWith(`..${path.sep}`) && relative !== '..' && !path.isAbsolute(relative));
}

/**
 * A temporary name beside `file` that no other process or call picks, and another user cannot
 * predict (a pid alone can be guessed, and a link planted there). Open it exclusively ('wx').
 */
export function tempPathFor(file: string): string {
  return `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
}

/**
 * Writes `data` to `file` through a new temporary file renamed into place: an existing file (or a
 * symbolic link another user planted) at the name is replaced, never written through, and a reader
 * never sees half a file. Every file the engine writes whole goes this way (exports, caches, the
 * store's sidecars, session lists); `mode` 0o600 for what only this user should read.
 */
export async function replaceFile(file: string, data: Uint8Array | string, { mode = 0o644 }: { mode?: number } = {}): Promise<void> {
  const temp = tempPathFor(file);
  const handle = await open(temp, 'wx', mode);
  try {
    try {
      await handle.writeFile(data);
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    // A full disk or a folder removed meanwhile: no temporary file is left behind.
    await rm(temp, { force: true });
    throw error;
  }
}
