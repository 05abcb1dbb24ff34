// Files shipped with the package (models/catalog.json, the labels, package.json), found from
// wherever this module runs: the source tree, the esbuild bundle in dist/node/, the app's bundle.
// Kept apart from catalog.ts so a caller needing only a path does not load the catalog's schema.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';

/**
 * Finds a file shipped with the package (e.g. `models/catalog.json`) by walking up from this module,
 * so it works from the source tree, a bundle in `out/`, and any working directory.
 */
export function findPackageFile(relative: string): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, relative);
    if (existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new EngineError(
    ErrorCode.FILE_NOT_FOUND,
    `cannot find ${relative} in the ResLens installation (searched upwards from ${path.dirname(fileURLToPath(import.meta.url))})`,
    {
      item: relative,
    },
  );
}
