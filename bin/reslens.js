#!/usr/bin/env node
// Entry point of the `reslens` command. The CLI is TypeScript run through tsx's loader, so an
// installed checkout needs no build step; the desktop app bundles the same sources with Vite.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src-main/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
