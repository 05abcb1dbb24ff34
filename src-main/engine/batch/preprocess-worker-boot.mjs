// Worker bootstrap for the batch preprocessing pool. Worker threads do not inherit the TypeScript
// loader the CLI registers (tsx) on Node 20, so when the engine runs from its .ts sources the worker
// registers it itself before loading its implementation; a bundled build passes a .js implementation
// and no loader.
import { workerData } from 'node:worker_threads';

if (workerData.tsx) {
  const { register } = await import('tsx/esm/api');
  register();
}
await import(workerData.impl);
