// Main's side of the engine process: forwards already-validated requests, relays events, and keeps
// the app alive when the process dies. onnxruntime blocks the thread that calls it, and a native
// crash takes its process down, so the engine never runs in main.
//
// When the process exits unexpectedly:
//   1. every request in flight is answered with ENGINE_CRASHED (none is left hanging);
//   2. a fresh process starts at once, gets every grant again, and reloads the last model the user
//      selected successfully (unless that reload is what was running when it crashed);
//   3. an `engine.status` event with `notice` tells the UI what happened; every EngineStatus main
//      passes on from then on carries the notice (status bar).
// More than `maxRestarts` crashes within `restartWindowMs` stops the restarts: requests are then
// answered with ENGINE_UNAVAILABLE, and engine.status is answered by main with the notice.
import type { EngineStatus, RequestName, RequestParams } from '../api/contract.js';
import type { ForwardingHandler } from '../api/handler.js';
import type { EventMessage } from './channels.js';
import { type EngineLauncher, type EngineProcess, type MainToEngine, parseEngineMessage } from './engine-protocol.js';
import type { Grant } from './grants.js';
import { HostError, HostErrorCode } from './host-error.js';

/** What the IPC layer needs from an engine: validated requests in, results (or a thrown error value) out. */
export type EngineLink = ForwardingHandler;

export interface EngineBridgeOptions {
  launch: EngineLauncher;
  /** Every grant so far, replayed into each new process. */
  grants: () => Grant[];
  /** Engine events for the window. */
  onEvent: (message: EventMessage) => void;
  maxRestarts?: number;
  restartWindowMs?: number;
  /** How long a new process may take to say it is ready before it counts as crashed. */
  readyTimeoutMs?: number;
  /** Versions main knows (Electron, Chromium, Node) for the status main answers itself. */
  hostVersions?: Record<string, string>;
  log?: (message: string) => void;
  now?: () => number;
}

interface Pending {
  method: RequestName;
  params: unknown;
  resolve: (value: unknown) => void;
  reject: (error: HostError) => void;
  /** Issued by the bridge itself (reload after a restart), not by the UI. */
  internal: boolean;
}

export type EngineState = 'idle' | 'running' | 'failed' | 'stopped';

function describeExit(exit: { code: number | null; signal: string | null }): string {
  if (exit.signal) return `killed by ${exit.signal}`;
  return exit.code === null ? 'no exit code' : `exit code ${exit.code}`;
}

const clock = (ms: number): string => new Date(ms).toTimeString().slice(0, 8);

export class EngineBridge implements EngineLink {
  private process?: EngineProcess;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private crashes: number[] = [];
  private lastSelect?: RequestParams<'models.select'>;
  private engineState: EngineState = 'idle';
  /** Messages wait here until the new process says it is ready (its listener is attached). */
  private outbox: MainToEngine[] = [];
  private ready = false;
  private readyTimer?: ReturnType<typeof setTimeout>;
  private startTimedOut = false;
  private currentNotice?: string;
  /** Requests sent to an engine process (the hostile-input tests assert this stays 0). */
  forwarded = 0;
  restarts = 0;

  constructor(private readonly options: EngineBridgeOptions) {}

  get state(): EngineState {
    return this.engineState;
  }

  get notice(): string | undefined {
    return this.currentNotice;
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  start(): void {
    if (this.engineState === 'running') return;
    this.spawn();
  }

  /** Tells the engine process about a new grant (the registry's onGrant). */
  grant(grant: Grant): void {
    if (this.engineState === 'running') this.post({ kind: 'grant', grants: [grant] });
  }

  handle<N extends RequestName>(method: N, params: RequestParams<N>): Promise<unknown> {
    if (this.engineState === 'failed') {
      if (method === 'engine.status') return Promise.resolve(this.failedStatus());
      return Promise.reject(new HostError(HostErrorCode.ENGINE_UNAVAILABLE, this.currentNotice ?? 'the engine is not running'));
    }
    if (this.engineState !== 'running') return Promise.reject(new HostError(HostErrorCode.ENGINE_UNAVAILABLE, 'the engine is not running'));
    return this.send(method, params, false);
  }

  /** Stops the engine process for good (app quit). Requests in flight are answered with an error. */
  stop(): void {
    this.engineState = 'stopped';
    const process = this.process;
    this.process = undefined;
    this.ready = false;
    this.outbox = [];
    clearTimeout(this.readyTimer);
    this.failAll(new HostError(HostErrorCode.ENGINE_UNAVAILABLE, 'ResLens is closing'));
    process?.kill();
  }

  private send(method: RequestName, params: unknown, internal: boolean): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { method, params, resolve, reject, internal });
      this.forwarded += 1;
      this.post({ kind: 'request', id, method, params });
    });
  }

  private post(message: MainToEngine): void {
    if (!this.ready) {
      this.outbox.push(message);
      return;
    }
    try {
      this.process?.postMessage(message);
    } catch (error) {
      // The process is going away; its exit handler answers what is pending.
      this.options.log?.(`engine: could not post a message: ${(error as Error).message}`);
    }
  }

  private spawn(): void {
    let child: EngineProcess;
    try {
      child = this.options.launch();
    } catch (error) {
      this.giveUp(
        `The engine process could not be started (${error instanceof Error ? error.message : String(error)}). Restart ResLens; if this keeps happening, reinstall it.`,
      );
      return;
    }
    this.process = child;
    this.ready = false;
    this.outbox = [];
    this.engineState = 'running';
    child.onMessage((message) => {
      if (this.process === child) this.receive(message);
    });
    child.onExit((exit) => {
      if (this.process === child) this.exited(exit);
    });
    // A process that never says it is ready (stuck loading a native library) counts as crashed.
    const readyTimeoutMs = this.options.readyTimeoutMs ?? 60_000;
    this.readyTimer = setTimeout(() => {
      if (this.process !== child || this.ready) return;
      this.options.log?.(`engine: not ready after ${readyTimeoutMs} ms; stopping it`);
      this.startTimedOut = true;
      child.kill();
    }, readyTimeoutMs);
    this.readyTimer.unref?.();
    const grants = this.options.grants();
    if (grants.length > 0) this.post({ kind: 'grant', grants });
  }

  private giveUp(notice: string): void {
    this.engineState = 'failed';
    this.process = undefined;
    this.currentNotice = notice;
    this.failAll(new HostError(HostErrorCode.ENGINE_UNAVAILABLE, notice));
    this.options.onEvent({ event: 'engine.status', payload: this.failedStatus() });
  }

  private receive(raw: unknown): void {
    const message = parseEngineMessage(raw);
    if (!message) {
      this.options.log?.('engine: ignored a malformed message');
      return;
    }
    if (message.kind === 'ready') {
      this.ready = true;
      clearTimeout(this.readyTimer);
      const queued = this.outbox;
      this.outbox = [];
      for (const m of queued) this.post(m);
      return;
    }
    if (message.kind === 'event') {
      const payload = message.event === 'engine.status' ? this.withNotice(message.payload as EngineStatus) : message.payload;
      this.options.onEvent({ event: message.event, payload } as EventMessage);
      return;
    }
    const pending = this.pending.get(message.id);
    if (!pending) return;
    this.pending.delete(message.id);
    if (!message.ok) {
      pending.reject(new HostError(message.error.code, message.error.message));
      return;
    }
    if (pending.method === 'models.select') this.lastSelect = pending.params as RequestParams<'models.select'>;
    const result = pending.method === 'engine.status' || pending.method === 'models.select' ? this.withNotice(message.result as EngineStatus) : message.result;
    pending.resolve(result);
  }

  private withNotice(status: EngineStatus): EngineStatus {
    return this.currentNotice && status && typeof status === 'object' ? { ...status, notice: this.currentNotice } : status;
  }

  private failedStatus(): EngineStatus {
    return { model: null, versions: { ...this.options.hostVersions }, ...(this.currentNotice ? { notice: this.currentNotice } : {}) };
  }

  private failAll(error: HostError): number {
    const entries = [...this.pending.values()];
    this.pending.clear();
    for (const p of entries) p.reject(error);
    return entries.filter((p) => !p.internal).length;
  }

  private exited(exit: { code: number | null; signal: string | null }): void {
    this.process = undefined;
    this.ready = false;
    this.outbox = [];
    clearTimeout(this.readyTimer);
    const timedOut = this.startTimedOut;
    this.startTimedOut = false;
    if (this.engineState === 'stopped') return;
    const now = (this.options.now ?? Date.now)();
    const windowMs = this.options.restartWindowMs ?? 60_000;
    this.crashes = [...this.crashes.filter((t) => now - t < windowMs), now];
    const how = timedOut ? `not ready within ${Math.round((this.options.readyTimeoutMs ?? 60_000) / 1000)} s` : describeExit(exit);
    const reloadCrashed = [...this.pending.values()].some((p) => p.internal && p.method === 'models.select');
    const failedCount = this.failAll(
      new HostError(
        HostErrorCode.ENGINE_CRASHED,
        `the engine process stopped unexpectedly (${how}) while working on this request; it has been restarted: try again`,
      ),
    );
    this.options.log?.(`engine: process stopped unexpectedly (${how}); ${failedCount} request(s) failed`);

    if (this.crashes.length > (this.options.maxRestarts ?? 3)) {
      this.giveUp(
        `The engine process stopped unexpectedly ${this.crashes.length} times within ${Math.round(windowMs / 1000)} s (last: ${how}, at ${clock(now)}); it is not restarted again. Restart ResLens; if this keeps happening, choose another model or execution provider.`,
      );
      return;
    }

    let notice = `The engine process stopped unexpectedly (${how}) at ${clock(now)} and was restarted${failedCount > 0 ? `; ${failedCount} request(s) in progress failed` : ''}.`;
    if (reloadCrashed && this.lastSelect) {
      notice += ` It stopped while reloading ${this.lastSelect.name}, so no model is loaded now.`;
      this.lastSelect = undefined;
    }
    this.currentNotice = notice;
    this.restarts += 1;
    this.spawn();
    const announce = (status: unknown) => this.options.onEvent({ event: 'engine.status', payload: this.withNotice(status as EngineStatus) });
    if (this.lastSelect) {
      const select = this.lastSelect;
      this.send('models.select', select, true).then(announce, (error: HostError) => {
        if (error.code === HostErrorCode.ENGINE_CRASHED) return; // the next exit reports it
        this.currentNotice = `${notice} Reloading ${select.name} failed: ${error.message}`;
        this.send('engine.status', {}, true).then(announce, () => undefined);
      });
    } else {
      this.send('engine.status', {}, true).then(announce, () => undefined);
    }
  }
}
