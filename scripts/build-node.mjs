// Builds the Node entry points (the `reslens` CLI, the browser-mode server and the batch
// preprocessing worker) into plain JavaScript with esbuild, so a start no longer compiles
// TypeScript through tsx: `reslens --help` went from ~1.0 s to well under 0.3 s (see
// tests/bench/startup.ts). Code splitting keeps each command's engine modules in their own chunks,
// loaded only when the command runs (onnxruntime-node stays external: its addon is found relative
// to its own package; sharp's JavaScript is bundled, its addon and libvips (@img/*) stay external).
//
// Run by the package's `prepare` (npm ci / npm install), by bin/reslens.js on first run when the
// bundle is missing or older than its sources, and by hand: `node scripts/build-node.mjs`.
// Output: dist/node/<target>/ plus dist/node/<target>/build-info.json, which lists every source
// file with its size and modification time so a stale bundle is noticed without rebuilding.
import { cpSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const NODE_DIST = path.join(ROOT, 'dist', 'node');

/**
 * What the bundles never include: native addons, build tools loaded on demand, Electron.
 *
 * sharp is bundled but for its platform packages (@img/sharp-<platform>, @img/sharp-libvips-*,
 * which hold the addon and libvips): loaded from node_modules, sharp's ESM build and its
 * dependencies (semver alone is 48 CommonJS files) were ~50 files to resolve and compile at every
 * photo-opening start — importing sharp took 1.3–1.7 s against 0.56–0.86 s bundled (3 runs each,
 * alternating, load average 12). The addon is still found by sharp's own require of
 * @img/sharp-<platform>/sharp.node, resolved from dist/node up to node_modules.
 */
const EXTERNAL = ['onnxruntime-node', '@img/*', 'vite', 'tsx', 'tsx/*', 'electron', '@sveltejs/*', 'svelte', 'svelte/*'];

/**
 * Each target is one esbuild run with splitting. The worker is its own entry in every target
 * because the pool finds it beside the chunk that starts it (import.meta.url).
 */
export const TARGETS = {
  cli: { entries: { main: 'src-main/cli/main.ts' } },
  server: { entries: { main: 'src-main/server/main.ts' } },
};
const WORKER = { 'preprocess-worker': 'src-main/engine/batch/preprocess-worker.ts' };
const WORKER_BOOT = 'src-main/engine/batch/preprocess-worker-boot.mjs';

/** Source files (relative to the root) that a bundle was built from, with size and mtime. */
function sourceStamps(metafile) {
  const stamps = {};
  for (const input of Object.keys(metafile.inputs)) {
    if (input.startsWith('node_modules/') || input.includes(':')) continue;
    const info = statSync(path.join(ROOT, input));
    stamps[input] = [info.size, Math.round(info.mtimeMs)];
  }
  // A dependency update (npm ci) changes the lock file npm keeps in node_modules.
  for (const extra of ['package.json', 'node_modules/.package-lock.json', WORKER_BOOT, 'scripts/build-node.mjs']) {
    try {
      const info = statSync(path.join(ROOT, extra));
      stamps[extra] = [info.size, Math.round(info.mtimeMs)];
    } catch {
      // absent (no node_modules lock in some installs)
    }
  }
  return stamps;
}

async function buildTarget(esbuild, name, target) {
  const final = path.join(NODE_DIST, name);
  // Built beside the final folder and swapped in, so a process starting meanwhile never sees half a
  // bundle, and two first runs at once each end with a complete one.
  const temp = `${final}.tmp-${process.pid}-${Date.now()}`;
  mkdirSync(temp, { recursive: true });
  try {
    const result = await esbuild.build({
      absWorkingDir: ROOT,
      entryPoints: { ...target.entries, ...WORKER },
      outdir: temp,
      entryNames: '[name]',
      chunkNames: '[name]-[hash]',
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      external: EXTERNAL,
      // CommonJS dependencies bundled into ESM still call require() for Node built-ins.
      banner: { js: "import { createRequire as __reslensRequire } from 'node:module'; const require = __reslensRequire(import.meta.url);" },
      sourcemap: 'linked',
      metafile: true,
      logLevel: 'warning',
      legalComments: 'none',
    });
    cpSync(path.join(ROOT, WORKER_BOOT), path.join(temp, path.basename(WORKER_BOOT)));
    writeFileSync(
      path.join(temp, 'build-info.json'),
      `${JSON.stringify({ esbuild: esbuild.version, builtAt: new Date().toISOString(), sources: sourceStamps(result.metafile) })}\n`,
    );
    const old = `${final}.old-${process.pid}-${Date.now()}`;
    try {
      renameSync(final, old);
    } catch {
      // no earlier build
    }
    renameSync(temp, final);
    rmSync(old, { recursive: true, force: true });
  } catch (error) {
    rmSync(temp, { recursive: true, force: true });
    throw error;
  }
}

/** Builds the named targets (default all). Throws when esbuild is not installed. */
export async function buildNode(names = Object.keys(TARGETS)) {
  const esbuild = await import('esbuild');
  for (const name of names) await buildTarget(esbuild, name, TARGETS[name]);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const names = process.argv.slice(2);
  const start = performance.now();
  try {
    await buildNode(names.length > 0 ? names : undefined);
    process.stderr.write(`built ${path.relative(process.cwd(), NODE_DIST) || NODE_DIST} in ${((performance.now() - start) / 1000).toFixed(1)} s\n`);
  } catch (error) {
    if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('esbuild')) {
      // An install without dev dependencies: the CLI then runs from the sources through tsx.
      process.stderr.write('note: esbuild is not installed; reslens will run from its TypeScript sources\n');
    } else {
      throw error;
    }
  }
}
