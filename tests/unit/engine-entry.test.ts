// The engine's public entry (src-main/engine/index.ts) stays light: importing it loads no native
// addon or client library, so every host can import it at start (the CLI's `--help`, `models list`)
// and pays for onnxruntime, sharp or Redis only through `load.*` when a command needs them. Checked
// on esbuild's graph of the entry as the CLI bundle splits it: static imports only, followed
// through shared chunks; dynamic imports (the loaders) are where the heavy parts belong.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
// zod too: ~750 KB of JavaScript that builds its schemas on import (about a third of `--help`'s own time).
const HEAVY = ['onnxruntime-node', 'sharp', 'protobufjs', 'bullmq', 'ioredis', 'zod'];

async function staticExternals(entry: string): Promise<{ heavy: Set<string>; dynamicChunks: number }> {
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: [entry],
    bundle: true,
    splitting: true,
    write: false,
    metafile: true,
    outdir: path.join(ROOT, '.scratch', 'engine-entry'),
    platform: 'node',
    format: 'esm',
    external: HEAVY,
    logLevel: 'silent',
  });
  const outputs = result.metafile.outputs;
  const start = Object.keys(outputs).find((name) => outputs[name]!.entryPoint === entry)!;
  const heavy = new Set<string>();
  let dynamicChunks = 0;
  const seen = new Set<string>();
  const stack = [start];
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    for (const imported of outputs[name]!.imports) {
      if (imported.kind === 'dynamic-import') dynamicChunks += 1;
      else if (imported.external) {
        if (HEAVY.includes(imported.path)) heavy.add(imported.path);
      } else stack.push(imported.path);
    }
  }
  return { heavy, dynamicChunks };
}

describe('engine public entry', () => {
  it('loads no native addon or client library statically; the heavy parts are loaders', async () => {
    const { heavy, dynamicChunks } = await staticExternals('src-main/engine/index.ts');
    expect([...heavy]).toEqual([]);
    expect(dynamicChunks).toBeGreaterThan(10);
  });

  it('keeps the CLI entry light too (commands load the engine when they run)', async () => {
    const { heavy } = await staticExternals('src-main/cli/main.ts');
    expect([...heavy]).toEqual([]);
  });

  it('the load table names modules that exist and export what hosts use', async () => {
    const { load } = await import('../../src-main/engine/index.js');
    const { startBatch } = await load.batchRun();
    expect(typeof startBatch).toBe('function');
  });
});
