// "Something that handles contract requests", once: the engine service implements it with typed
// results; each host (browser-mode server, Electron's engine process, main's IPC side) only forwards
// results onto a wire without reading them, so it sees the same shape with `unknown` results.
import type { RequestName, RequestParams, RequestResults } from './contract.js';

/** What a host knows about a request beyond its parameters. */
export interface RequestContext {
  /** Aborted when the connection that asked is gone: the rest of the work is skipped. */
  signal?: AbortSignal;
}

/** Results keyed by request: the contract's own, or `unknown` for a host that only forwards them. */
type ResultsOf = { [N in RequestName]: unknown };

export interface ContractHandler<Results extends ResultsOf = RequestResults> {
  handle<N extends RequestName>(method: N, params: RequestParams<N>, context?: RequestContext): Promise<Results[N]>;
}

/** A host's view of a handler: it passes results on as they are. */
export type ForwardingHandler = ContractHandler<ResultsOf>;

/** One request's handler. */
export type RequestHandler<N extends RequestName> = (params: RequestParams<N>, context: RequestContext) => Promise<RequestResults[N]>;

/** A dispatch table: one handler per request name, so a missing or mistyped one is a type error. */
export type RequestHandlers = { [N in RequestName]: RequestHandler<N> };
