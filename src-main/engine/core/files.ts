// Small questions about paths that several engine modules ask.
import { stat } from 'node:fs/promises';
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
