// The engine process's side: one EngineService, fed by main over the parent port. Main has already
// validated every request and checked its ids; this side validates again (cheap, and the process
// boundary is a trust boundary too) and resolves ids only through grants main sent.
import { type EngineEvents, type ErrorValue, type EventName, validateRequest } from '../api/contract.js';
import type { ForwardingHandler } from '../api/handler.js';
import { EngineError, ErrorCode } from '../engine/index.js';
import type { ServiceHost } from '../service/engine-service.js';
import type { ParentPortLike } from './engine-protocol.js';
import type { Grant } from './grants.js';

/** The part of EngineService the host drives. */
export type EngineServiceLike = ForwardingHandler;

function toEngineErrorValue(error: unknown): ErrorValue {
  if (error instanceof EngineError) return { code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}) };
  return { code: ErrorCode.INTERNAL, message: error instanceof Error ? error.message : String(error) };
}

function isGrant(value: unknown): value is Grant {
  const g = value as Grant;
  return (
    typeof g === 'object' &&
    g !== null &&
    (g.kind === 'image' || g.kind === 'folder') &&
    typeof g.id === 'string' &&
    typeof g.path === 'string' &&
    typeof g.name === 'string'
  );
}

/** Wires an engine service to the parent port. Returns the ServiceHost it built (for tests). */
export function runEngineHost(port: ParentPortLike, createService: (host: ServiceHost) => EngineServiceLike): ServiceHost {
  const grants = new Map<string, Grant>();
  const host: ServiceHost = {
    resolveImage(id) {
      const grant = grants.get(id);
      return grant?.kind === 'image' ? { path: grant.path, name: grant.name } : undefined;
    },
    resolveFolder(id) {
      const grant = grants.get(id);
      return grant?.kind === 'folder' ? grant.path : undefined;
    },
    emit<E extends EventName>(event: E, payload: EngineEvents[E]) {
      port.postMessage({ kind: 'event', event, payload });
    },
  };
  const service = createService(host);

  port.onMessage((message) => {
    const m = message as { kind?: unknown; grants?: unknown };
    if (m?.kind === 'grant') {
      if (Array.isArray(m.grants)) for (const g of m.grants) if (isGrant(g)) grants.set(g.id, g);
      return;
    }
    const request = validateRequest(message);
    if (!request.ok) {
      if (request.id !== null) port.postMessage({ kind: 'response', id: request.id, ok: false, error: request.error });
      return;
    }
    service.handle(request.method, request.params).then(
      (result) => port.postMessage({ kind: 'response', id: request.id, ok: true, result }),
      (error: unknown) => port.postMessage({ kind: 'response', id: request.id, ok: false, error: toEngineErrorValue(error) }),
    );
  });
  port.postMessage({ kind: 'ready', pid: process.pid });
  return host;
}
