// The engine process in the desktop app: Electron's utilityProcess (a Node.js child with its own
// thread and crash domain; onnxruntime may block it or crash it without touching the window).
import { utilityProcess } from 'electron';
import type { EngineLauncher, EngineProcess } from '../engine-protocol.js';

export function utilityEngineLauncher(entry: string, log: (message: string) => void): EngineLauncher {
  return (): EngineProcess => {
    const child = utilityProcess.fork(entry, [], { serviceName: 'ResLens engine', stdio: 'inherit' });
    let exited = false;
    child.on('error', (type, location) => log(`engine: ${type} at ${location}`));
    return {
      get pid() {
        return child.pid;
      },
      postMessage(message) {
        if (!exited) child.postMessage(message);
      },
      onMessage(listener) {
        child.on('message', listener);
      },
      onExit(listener) {
        child.once('exit', (code) => {
          exited = true;
          listener({ code, signal: null });
        });
      },
      kill() {
        if (!exited) child.kill();
      },
    };
  };
}
