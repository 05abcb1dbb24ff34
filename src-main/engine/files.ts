// Small questions about paths that several engine modules ask.
import { stat } from 'node:fs/promises';

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
