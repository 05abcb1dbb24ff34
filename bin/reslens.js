#!/usr/bin/env node
// Entry point of the `reslens` command: the esbuild bundle of src-main/cli (built by `prepare`, or
// here on first run), or the TypeScript sources through tsx with RESLENS_FROM_SOURCE=1.
import { loadEntry } from './launch.js';

const { main } = await loadEntry('cli', 'src-main/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
