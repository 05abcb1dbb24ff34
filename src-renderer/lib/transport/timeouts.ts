// No request waits forever (issue 15: the feature view spun for ever once the engine was gone).
// Two limits around every call, for both transports:
//  - a liveness check: once a call has waited `probeAfterMs`, the engine is asked for its status
//    (a cheap request); no answer within `probeTimeoutMs` means the engine is gone or stuck, and
//    every waiting call fails with TIMEOUT. `probeTimeoutMs` is long on purpose: onnxruntime blocks
//    the engine's thread for each run, and a chain of runs (the block strip measuring all 16 blocks
//    of ResNet-50, on a loaded machine) kept the probe unanswered for over 8 s in a screenshot run,
//    which a shorter limit reported as a dead engine;
//  - a hard limit per kind of request, far above what the request takes on a slow machine, for a
//    live engine that never answers one request.
// A dropped connection (the server killed, the desktop engine crashed) fails calls at once in the
// transports themselves; this module covers the engine that is there but does not answer.
import type { EngineEvents, EventName, RequestName, RequestParams, RequestResults, ReslensApi } from '../../../src-main/api/contract.js';
import { ApiError } from './types.js';

export interface TimeoutOptions {
  probeAfterMs?: number;
  probeTimeoutMs?: number;
  /** Hard limits by request name; `defaultLimitMs` for others. `null`: no hard limit (liveness only). */
  limits?: Partial<Record<string, number | null>>;
  /** Requests not in the table (added later by other features): liveness only unless given. */
  defaultLimitMs?: number | null;
}

/** Quick answers: the engine only looks something up. */
const QUICK_MS = 15_000;
/** Inference on one photo (feature maps, explanations, lesions) on a slow CPU, or a batch's rows. */
const HEAVY_MS = 180_000;

export const DEFAULT_LIMITS: Record<string, number | null> = {
  'engine.status': QUICK_MS,
  'models.list': QUICK_MS,
  'batch.list': QUICK_MS,
  'batch.control': 60_000, // a cancel answers once the batch in flight has stopped
  'explain.labels': QUICK_MS,
  'lesion.control': 60_000,
  'images.thumbnail': 60_000,
  'images.classify': HEAVY_MS,
  'features.get': HEAVY_MS,
  'features.channel': HEAVY_MS,
  // Chains of inference runs (every block, every class's gradients): as long as the engine is alive.
  'explain.get': null,
  'blocks.get': null,
  'blocks.features': null,
  'batch.rows': HEAVY_MS,
  // A model download, an organise of 10,000 files, an export: as long as the engine is alive.
  'models.select': null,
  'batch.organize': null,
  'batch.export': null,
  'lesion.export': null,
  'engine.doctor': null,
};

export function withTimeouts(api: ReslensApi, options: TimeoutOptions = {}): ReslensApi {
  const timing: ProbeTiming = { probeAfterMs: options.probeAfterMs ?? 5000, probeTimeoutMs: options.probeTimeoutMs ?? 45_000 };
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const defaultLimit = options.defaultLimitMs === undefined ? null : options.defaultLimitMs;
  const waiting: Waiting = new Set();
  const probe = livenessProbe(api, timing, waiting);
  return {
    call<N extends RequestName>(method: N, params: RequestParams<N>): Promise<RequestResults[N]> {
      const limit = method in limits ? limits[method] : defaultLimit;
      return guardedCall(api, method, params, { limit, timing, waiting, probe });
    },
    on<E extends EventName>(event: E, listener: (payload: EngineEvents[E]) => void): () => void {
      return api.on(event, listener);
    },
  };
}

interface ProbeTiming {
  probeAfterMs: number;
  probeTimeoutMs: number;
}

/** The calls still waiting, each by the function that fails it. */
type Waiting = Set<(error: ApiError) => void>;

/** Asks the engine for its status (one probe at a time); fails every waiting call when it does not answer in time. */
function livenessProbe(api: ReslensApi, timing: ProbeTiming, waiting: Waiting): () => void {
  let probing = false;
  return () => {
    if (probing) return;
    probing = true;
    let answered = false;
    const timer = setTimeout(() => {
      if (answered) return;
      const error = new ApiError(
        'TIMEOUT',
        `the engine did not answer within ${Math.round((timing.probeAfterMs + timing.probeTimeoutMs) / 1000)} s: it has stopped or is stuck`,
      );
      for (const fail of [...waiting]) fail(error);
      probing = false;
    }, timing.probeTimeoutMs);
    // A failed probe is an answer too (the transport reports its own errors to the caller).
    const onAnswer = () => {
      answered = true;
      clearTimeout(timer);
      probing = false;
    };
    api.call('engine.status', {} as RequestParams<'engine.status'>).then(onAnswer, onAnswer);
  };
}

/** One call under both limits: the liveness probe while it waits, and its own hard limit (null: none). */
function guardedCall<N extends RequestName>(
  api: ReslensApi,
  method: N,
  params: RequestParams<N>,
  guard: { limit: number | null | undefined; timing: ProbeTiming; waiting: Waiting; probe: () => void },
): Promise<RequestResults[N]> {
  const { limit, timing, waiting, probe } = guard;
  return new Promise<RequestResults[N]>((resolve, reject) => {
    let settled = false;
    const timers: ReturnType<typeof setTimeout>[] = [];
    const finish = () => {
      settled = true;
      for (const t of timers) clearTimeout(t);
      waiting.delete(fail);
    };
    const fail = (error: ApiError) => {
      if (settled) return;
      finish();
      reject(error);
    };
    waiting.add(fail);
    if (method !== 'engine.status') {
      const check = () => {
        if (settled) return;
        probe();
        timers.push(setTimeout(check, timing.probeAfterMs + timing.probeTimeoutMs));
      };
      timers.push(setTimeout(check, timing.probeAfterMs));
    }
    if (limit !== null && limit !== undefined)
      timers.push(setTimeout(() => fail(new ApiError('TIMEOUT', `${method} got no answer within ${Math.round(limit / 1000)} s`)), limit));
    api.call(method, params).then(
      (value) => {
        if (settled) return;
        finish();
        resolve(value);
      },
      (error: unknown) => {
        if (settled) return;
        finish();
        reject(error);
      },
    );
  });
}
