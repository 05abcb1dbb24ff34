// Preloaded with `node --import` by tests: when the process exits, writes the native libraries it
// had loaded (process.report's sharedObjects) to $RESLENS_SHARED_OBJECTS_FILE, one per line.
import { writeFileSync } from 'node:fs';

const file = process.env.RESLENS_SHARED_OBJECTS_FILE;
if (file) process.on('exit', () => writeFileSync(file, `${process.report.getReport().sharedObjects.join('\n')}\n`));
