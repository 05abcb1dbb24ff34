// Messages between the main process and the engine process (Electron's utilityProcess; a Node
// child process stands in for it where there is no Electron binary). Requests and replies are the
// contract's own envelope; the only addition is `grant`, which tells the engine which ids resolve
// to which paths. Everything travels by structured clone (typed arrays stay typed arrays).
import type { ClientMessage, ErrorValue, EventName, ServerMessage } from '../api/contract.js';
import { EVENT_NAMES } from './channels.js';
import type { Grant } from './grants.js';

export type MainToEngine = ClientMessage | { kind: 'grant'; grants: Grant[] };
export type EngineToMain = ServerMessage | { kind: 'ready'; pid: number };

/** The engine process as main sees it: Electron's UtilityProcess, or a Node ChildProcess, behind one shape. */
export interface EngineProcess {
  readonly pid: number | undefined;
  postMessage(message: MainToEngine): void;
  onMessage(listener: (message: unknown) => void): void;
  /** Fires once when the process is gone, whatever the reason. */
  onExit(listener: (exit: { code: number | null; signal: string | null }) => void): void;
  kill(): void;
}

/** Starts a fresh engine process. */
export type EngineLauncher = () => EngineProcess;

/** The engine process's end of the channel (Electron: process.parentPort; Node: process.send). */
export interface ParentPortLike {
  postMessage(message: EngineToMain): void;
  onMessage(listener: (message: unknown) => void): void;
}

/** The events the engine process may send up: the renderer's list (channels.ts checks it is complete at compile time). */
const KNOWN_EVENTS = new Set<string>(EVENT_NAMES);

function isErrorValue(value: unknown): value is ErrorValue {
  return typeof value === 'object' && value !== null && typeof (value as ErrorValue).code === 'string' && typeof (value as ErrorValue).message === 'string';
}

/** Shape check of what the engine process sends (our own code, but a crash can leave anything on the wire). */
export function parseEngineMessage(message: unknown): EngineToMain | null {
  if (typeof message !== 'object' || message === null) return null;
  const m = message as Record<string, unknown>;
  switch (m.kind) {
    case 'ready':
      return typeof m.pid === 'number' ? { kind: 'ready', pid: m.pid } : null;
    case 'event':
      return typeof m.event === 'string' && KNOWN_EVENTS.has(m.event) ? { kind: 'event', event: m.event as EventName, payload: m.payload } : null;
    case 'response':
      if (typeof m.id !== 'number') return null;
      if (m.ok === true) return { kind: 'response', id: m.id, ok: true, result: m.result };
      if (m.ok === false && isErrorValue(m.error)) return { kind: 'response', id: m.id, ok: false, error: { code: m.error.code, message: m.error.message } };
      return null;
    default:
      return null;
  }
}
