// Entry point of the engine process. In the desktop app it runs in Electron's utilityProcess
// (talking over process.parentPort); where there is no Electron binary (tests) it runs as a Node
// child process with an IPC channel (process.send), which is what utilityProcess is modelled on.
// Bundled on its own as dist/app/engine.cjs; onnxruntime-node and sharp stay external.
import envPaths from 'env-paths';
import { EngineService } from '../service/engine-service.js';
import type { EngineToMain, ParentPortLike } from './engine-protocol.js';
import { runEngineHost } from './engine-host.js';
import { defaultDataDir, removeDeadRunDirs } from '../engine/index.js';

interface ElectronParentPort {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (event: { data: unknown }) => void): void;
}

function parentPort(): ParentPortLike {
  const electronPort = (process as unknown as { parentPort?: ElectronParentPort }).parentPort;
  if (electronPort) {
    return {
      postMessage: (message: EngineToMain) => electronPort.postMessage(message),
      onMessage: (listener) => electronPort.on('message', (event) => listener(event.data)),
    };
  }
  if (process.send) {
    const send = process.send.bind(process);
    // Main gone (IPC channel closed): nothing left to serve.
    process.on('disconnect', () => process.exit(0));
    return {
      postMessage: (message: EngineToMain) => {
        send(message);
      },
      onMessage: (listener) => process.on('message', listener),
    };
  }
  throw new Error('the ResLens engine process must be started by the app (utilityProcess or child_process.fork with an IPC channel)');
}

process.on('unhandledRejection', (reason) => {
  process.stderr.write(`engine: unhandled rejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}\n`);
});

// RESLENS_MODEL (a model name or .onnx path) loads a model at start, before the UI picks one; the
// UI's models.select replaces it. Set by whoever launches the app (the Electron e2e spec does).
const initialModel = process.env.RESLENS_MODEL?.trim() || undefined;
/** "Run on workers" in the Batch view (docs/queue.md). */
const queueUrl = process.env.RESLENS_QUEUE_URL?.trim() || undefined;

const cacheDir = envPaths('reslens', { suffix: '' }).cache;
// Batch working folders of an engine process that was killed (its pid is gone) go at the next start.
void removeDeadRunDirs(cacheDir);

runEngineHost(parentPort(), (host) => {
  const service = new EngineService({
    host,
    cacheDir,
    dataDir: defaultDataDir(),
    ...(initialModel ? { initialModel } : {}),
    ...(queueUrl ? { queueUrl } : {}),
  });
  service.start().catch((error: unknown) => {
    process.stderr.write(`engine: could not load ${initialModel}: ${error instanceof Error ? error.message : String(error)}\n`);
  });
  return service;
});
