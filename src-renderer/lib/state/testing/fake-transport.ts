// A FAKE TRANSPORT for the renderer's state tests: the transport is the renderer's true boundary (the
// engine sits behind IPC or a WebSocket), so these tests stand an in-memory engine there. Every request
// is validated against the contract's own schemas (as a host would) and then either answered by a
// handler the test installed, or held until the test answers it (to play slow and out-of-order replies).
// Events are emitted as the engine would push them.
import {
  type EngineEvents,
  type EventName,
  type HostApi,
  type RequestName,
  type RequestParams,
  type RequestResults,
  RequestSchemas,
} from '../../../../src-main/api/contract.js';
import type { Transport } from '../../transport/index.js';

export interface HeldCall<N extends RequestName = RequestName> {
  method: N;
  params: RequestParams<N>;
  resolve(value: RequestResults[N]): void;
  reject(error: unknown): void;
}

type Handler<N extends RequestName> = (params: RequestParams<N>) => RequestResults[N] | Promise<RequestResults[N]>;

export class FakeTransport implements Transport {
  /** Every request made, in order (answered or not). */
  readonly calls: { method: RequestName; params: unknown }[] = [];
  /** Requests without a handler, waiting for the test to answer them. */
  readonly held: HeldCall[] = [];
  private readonly handlers = new Map<RequestName, Handler<RequestName>>();
  private readonly listeners = new Map<EventName, Set<(payload: never) => void>>();
  readonly host: HostApi;
  readonly api: Transport['api'];

  constructor(host: Partial<HostApi> = {}) {
    this.host = {
      kind: 'browser',
      addFiles: async (files) => files.map((file, i) => ({ image: `img_fake${String(this.calls.length + i).padStart(8, '0')}`, name: file.name })),
      pickFolder: async () => null,
      saveFile: async () => undefined,
      ...host,
    };
    this.api = {
      call: <N extends RequestName>(method: N, params: RequestParams<N>): Promise<RequestResults[N]> => {
        this.calls.push({ method, params });
        // As a host would: a request the contract rejects never reaches the engine.
        const parsed = RequestSchemas[method].safeParse(params);
        if (!parsed.success) return Promise.reject(Object.assign(new Error(`invalid ${method} params: ${parsed.error.message}`), { code: 'INVALID_ARGUMENT' }));
        const handler = this.handlers.get(method) as Handler<N> | undefined;
        if (handler) return Promise.resolve().then(() => handler(params));
        return new Promise<RequestResults[N]>((resolve, reject) => this.held.push({ method, params, resolve, reject } as unknown as HeldCall));
      },
      on: <E extends EventName>(event: E, listener: (payload: EngineEvents[E]) => void): (() => void) => {
        const set = this.listeners.get(event) ?? new Set();
        this.listeners.set(event, set);
        set.add(listener as (payload: never) => void);
        return () => set.delete(listener as (payload: never) => void);
      },
    };
  }

  /** Answers every `method` request with `handler` from now on. */
  handle<N extends RequestName>(method: N, handler: Handler<N>): this {
    this.handlers.set(method, handler as unknown as Handler<RequestName>);
    return this;
  }

  /** The engine pushes an event. */
  emit<E extends EventName>(event: E, payload: EngineEvents[E]): void {
    for (const listener of this.listeners.get(event) ?? []) (listener as (payload: EngineEvents[E]) => void)(payload);
  }

  /** Held requests of one method, oldest first. */
  heldOf<N extends RequestName>(method: N): HeldCall<N>[] {
    return this.held.filter((c) => c.method === method) as unknown as HeldCall<N>[];
  }

  /** Removes and returns the oldest held request of `method` (throws if there is none: the test expected one). */
  take<N extends RequestName>(method: N): HeldCall<N> {
    const index = this.held.findIndex((c) => c.method === method);
    if (index < 0) throw new Error(`no ${method} request is waiting (held: ${this.held.map((c) => c.method).join(', ') || 'none'})`);
    return this.held.splice(index, 1)[0] as unknown as HeldCall<N>;
  }

  callsOf(method: RequestName): unknown[] {
    return this.calls.filter((c) => c.method === method).map((c) => c.params);
  }
}

/** Lets promise chains (the state classes' awaits) run to their next wait. */
export async function settle(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setTimeout(resolve, 0));
}
