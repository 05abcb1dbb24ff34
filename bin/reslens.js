#!/usr/bin/env node
// Entry point of the `reslens` command: the esbuild bundle of src-main/cli (built by `prepare`, or
// here on first run), or the TypeScript sources through tsx with RESLENS_FROM_SOURCE=1. On Linux a
// model-loading command runs in a child with huge pages (see huge-pages.js).
import { fileURLToPath } from 'node:url';
import { relaunch, shouldRelaunch, watchParent } from './huge-pages.js';
import { loadEntry } from './launch.js';

const argv = process.argv.slice(2);
if (!(shouldRelaunch(argv) && (await relaunch(fileURLToPath(import.meta.url), argv)))) {
  watchParent();
  const { main } = await loadEntry('cli', 'src-main/cli/main.ts');
  process.exitCode = await main(argv);
}
