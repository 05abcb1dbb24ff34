// Which paths a batch may touch. Comparisons are by path segments (`/photos-old` is not inside
// `/photos`), and where links matter by real path (a link inside --root that leads to /etc is not
// inside --root).
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';

export { isSameOrBelow } from '../core/files.js';
import { isSameOrBelow } from '../core/files.js';

/** The real path of `file`, or of its nearest existing ancestor joined with the rest (for paths not created yet). */
export async function realPathOrNearest(file: string): Promise<string> {
  const absolute = path.resolve(file);
  const rest: string[] = [];
  let current = absolute;
  for (;;) {
    try {
      return path.join(await realpath(current), ...rest.reverse());
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return absolute;
      rest.push(path.basename(current));
      current = parent;
    }
  }
}

/** Whether `file` lies under `folder`; with `real`, after resolving every link on both sides. */
export async function isInside(file: string, folder: string, options: { real?: boolean } = {}): Promise<boolean> {
  if (!options.real) return isSameOrBelow(file, folder);
  const [realFile, realFolder] = await Promise.all([realpath(file).catch(() => null), realpath(folder).catch(() => null)]);
  return realFile !== null && realFolder !== null && isSameOrBelow(realFile, realFolder);
}

/** Whether a journal's path belongs to this run: one of the inputs itself or a file below an input folder. */
export function underInputs(file: string, inputs: readonly string[]): boolean {
  return inputs.some((input) => isSameOrBelow(file, input));
}

/**
 * Refuses an organise destination that is an input folder or an ancestor of one: every rerun would
 * classify the copies as new photos (13 photos became 52 files), and originals already in DEST would
 * be skipped without a word. A destination inside an input folder is fine (the walk leaves it out).
 */
export async function refuseDestOverInputs(dest: string, inputs: readonly string[]): Promise<void> {
  const realDest = await realPathOrNearest(dest);
  for (const input of inputs) {
    const realInput = await realPathOrNearest(input);
    if (isSameOrBelow(realInput, realDest)) {
      const what = realInput === realDest ? 'is the input folder' : `contains the input ${input}`;
      throw new EngineError(
        ErrorCode.INVALID_ARGUMENT,
        `organise destination ${dest} ${what}: the copies would be classified as new photos on the next run; choose a folder outside the inputs (or a new subfolder of one)`,
        { item: dest },
      );
    }
  }
}
