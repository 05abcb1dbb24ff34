// The engine process as a Node child process (child_process.fork with an IPC channel and V8
// serialisation, so typed arrays survive as in Electron's structured clone). The desktop app uses
// Electron's utilityProcess instead (electron/engine-process.ts); this launcher is for running the
// engine host outside Electron: the tests, where no Electron binary exists, and debugging.
import { fork } from 'node:child_process';
import type { EngineLauncher, EngineProcess } from './engine-protocol.js';

export interface NodeEngineOptions {
  /** Node flags for the child, e.g. ['--import', 'tsx'] to run the TypeScript entry. */
  execArgv?: string[];
  env?: NodeJS.ProcessEnv;
  /** Where the child's stdout/stderr go (default: inherited). */
  stdio?: 'inherit' | 'ignore' | 'pipe';
}

export function nodeEngineLauncher(entry: string, options: NodeEngineOptions = {}): EngineLauncher {
  return (): EngineProcess => {
    const stdio = options.stdio ?? 'inherit';
    const child = fork(entry, [], {
      execArgv: options.execArgv ?? [],
      env: options.env ?? process.env,
      serialization: 'advanced',
      stdio: [stdio, stdio, stdio, 'ipc'],
    });
    let exited = false;
    return {
      get pid() {
        return child.pid;
      },
      postMessage(message) {
        if (!exited && child.connected) child.send(message);
      },
      onMessage(listener) {
        child.on('message', listener);
      },
      onExit(listener) {
        child.once('exit', (code, signal) => {
          exited = true;
          listener({ code, signal });
        });
      },
      kill() {
        if (!exited) child.kill();
      },
    };
  };
}
