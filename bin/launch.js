// Starts a ResLens Node entry point from its esbuild bundle (dist/node/<target>/main.js, see
// scripts/build-node.mjs), rebuilding it first when it is missing or older than its sources, and
// from the TypeScript sources through tsx when RESLENS_FROM_SOURCE=1 or esbuild is not installed.
// The freshness check stats each source file listed in the bundle's build-info.json (~150 files,
// about 2 ms), so edited sources are never run from a stale bundle.
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Whether the bundle in `dir` was built from the source files as they are now. */
export function isFresh(dir) {
  let info;
  try {
    info = JSON.parse(readFileSync(path.join(dir, 'build-info.json'), 'utf8'));
  } catch {
    return false;
  }
  for (const [file, [size, mtime]] of Object.entries(info.sources ?? {})) {
    try {
      const stat = statSync(path.join(ROOT, file));
      if (stat.size !== size || Math.round(stat.mtimeMs) !== mtime) return false;
    } catch {
      return false;
    }
  }
  return true;
}

async function fromSource(sourceEntry) {
  const { register } = await import('tsx/esm/api');
  register();
  return import(pathToFileURL(path.join(ROOT, sourceEntry)).href);
}

/** Builds `target`'s bundle unless it is fresh; throws when esbuild is missing or the build fails. */
export async function ensureBuilt(target) {
  if (isFresh(path.join(ROOT, 'dist', 'node', target))) return;
  const { buildNode } = await import('../scripts/build-node.mjs');
  await buildNode([target]);
}

/** The entry module of `target` ('cli' or 'server'), built or from source. */
export async function loadEntry(target, sourceEntry) {
  if (process.env.RESLENS_FROM_SOURCE === '1') return fromSource(sourceEntry);
  const dir = path.join(ROOT, 'dist', 'node', target);
  if (!isFresh(dir)) {
    try {
      await ensureBuilt(target);
    } catch (error) {
      // No esbuild (an install without dev dependencies) or a build error: run from the sources.
      if (process.env.RESLENS_VERBOSE)
        process.stderr.write(`note: running from sources (${error instanceof Error ? error.message.split('\n')[0] : String(error)})\n`);
      return fromSource(sourceEntry);
    }
  }
  return import(pathToFileURL(path.join(dir, 'main.js')).href);
}
