#!/usr/bin/env node
// Browser mode from built JavaScript: the esbuild bundle of src-main/server (see bin/launch.js).
// Same options as `npm run serve`.
import { loadEntry } from './launch.js';

const { serve } = await loadEntry('server', 'src-main/server/main.ts');
await serve(process.argv.slice(2));
