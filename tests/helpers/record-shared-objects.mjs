// Preloaded with `node --import` by tests: when the process exits, adds the native libraries it
// had loaded (process.report's sharedObjects) to $RESLENS_SHARED_OBJECTS_FILE, one per line.
// Appended, not overwritten: `reslens` may run a command in a child (bin/huge-pages.js) that
// inherits the preload, and the file then holds what both processes loaded.
import { appendFileSync } from 'node:fs';

const file = process.env.RESLENS_SHARED_OBJECTS_FILE;
if (file) process.on('exit', () => appendFileSync(file, `${process.report.getReport().sharedObjects.join('\n')}\n`));
