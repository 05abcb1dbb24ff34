// Creates onnxruntime sessions: one provider at a time (onnxruntime-node throws rather than falling
// back when a listed provider cannot load), recording why each one was passed over
// (provider-attempt.ts); probes every GPU session against the CPU before trusting it (probe.ts); and
// the chosen session is wrapped in a runner that moves to the CPU if the GPU fails mid-run
// (session-runner.ts). The rule is written out in providers.ts.
import os from 'node:os';
import type * as ort from 'onnxruntime-node';
import { EngineError } from '../core/errors.js';
import { type Ep, type EpRequest, ErrorCode } from '../core/vocabulary.js';
import { type ProbeSpec } from './probe.js';
import { type AttemptContext, type EpAttempt, attemptProvider, probeSpecOf } from './provider-attempt.js';
import { EP_TITLES, autoOrder, describeEp } from './providers.js';
import { type CpuCacheOptions, type CreatedSession, type ModelSource, createCpuSession } from './session-create.js';

export interface SessionChoice {
  session: ort.InferenceSession;
  ep: Ep;
  attempts: EpAttempt[];
  threads: number;
  /** Whether the session came from the optimised-model cache. */
  fromCache: boolean;
  createMs: number;
}

export interface SessionOptions extends CpuCacheOptions {
  ep: EpRequest;
  /** Intra-op threads; defaults to the machine's available parallelism. */
  threads?: number;
  /** The order auto tries (default: the platform's; tests and diagnostics pass their own). */
  order?: Ep[];
  /** Probe GPU sessions against the CPU before trusting them (default true). */
  probe?: boolean | ProbeSpec;
  /** Always time a warm probe run, not only under auto (diagnostics, benchmarks). */
  measureSpeed?: boolean;
  /**
   * Apply auto's device check before trying a provider (default true). Tests turn it off to put a
   * software adapter through the probe's speed rule.
   */
  deviceCheck?: boolean;
}

export async function createSession(modelPath: ModelSource, options: SessionOptions): Promise<SessionChoice> {
  const threads = options.threads ?? os.availableParallelism();
  const auto = options.ep === 'auto';
  const order: Ep[] = auto ? (options.order ?? autoOrder()) : [options.ep as Ep];
  const attempts: EpAttempt[] = [];
  const start = performance.now();
  // The CPU session made as the probe's reference is reused if the CPU ends up chosen.
  let cpu: CreatedSession | undefined;
  const ctx: AttemptContext = {
    modelPath,
    threads,
    auto,
    deviceCheck: options.deviceCheck !== false,
    probeSpec: probeSpecOf(options.probe),
    measureSpeed: options.measureSpeed === true,
    getCpu: async () => (cpu ??= await createCpuSession(modelPath, options, threads)),
  };
  try {
    for (const ep of order) {
      const { attempt, created } = await attemptProvider(ep, ctx);
      attempts.push(attempt);
      if (!created) continue;
      if (ep !== 'cpu' && cpu) {
        await cpu.session.release().catch(() => undefined);
        cpu = undefined;
      }
      return { session: created.session, ep, attempts, threads, fromCache: created.fromCache, createMs: performance.now() - start };
    }
  } catch (error) {
    await cpu?.session.release().catch(() => undefined);
    throw error;
  }
  await cpu?.session.release().catch(() => undefined);
  throw noProviderError(options.ep, attempts);
}

/** Why no session came out of the attempts. */
function noProviderError(requested: EpRequest, attempts: EpAttempt[]): EngineError {
  const last = attempts[attempts.length - 1];
  // The CPU provider is always there: when it cannot load the model, the model is the problem.
  if (requested !== 'auto' && requested !== 'cpu') {
    return new EngineError(ErrorCode.EP_UNAVAILABLE, `execution provider '${requested}' is unavailable: ${last?.reason ?? 'unknown reason'}`);
  }
  if (requested === 'cpu') return new EngineError(ErrorCode.INVALID_MODEL, `onnxruntime cannot load the model on the CPU: ${last?.reason ?? 'unknown reason'}`);
  return new EngineError(ErrorCode.INVALID_MODEL, `no execution provider could load the model: ${attempts.map((a) => `${a.ep}: ${a.reason}`).join('; ')}`);
}

/**
 * Each provider forced in turn, probed and timed (diagnostics): what loads, what fails and why.
 * Sessions are released; only the records come back.
 */
export async function checkProviders(
  modelPath: ModelSource,
  eps: readonly Ep[],
  options: Omit<SessionOptions, 'ep' | 'order' | 'deviceCheck'> = {},
): Promise<EpAttempt[]> {
  const threads = options.threads ?? os.availableParallelism();
  let cpu: CreatedSession | undefined;
  const ctx: AttemptContext = {
    modelPath,
    threads,
    auto: false,
    deviceCheck: false,
    probeSpec: probeSpecOf(options.probe),
    measureSpeed: true,
    getCpu: async () => (cpu ??= await createCpuSession(modelPath, options, threads)),
  };
  const attempts: EpAttempt[] = [];
  try {
    for (const ep of eps) {
      const { attempt, created } = await attemptProvider(ep, ctx);
      if (created && created.session !== cpu?.session) await created.session.release().catch(() => undefined);
      attempts.push(attempt);
    }
  } finally {
    await cpu?.session.release().catch(() => undefined);
  }
  return attempts;
}

/**
 * What runs, and why not a GPU: "GPU · CUDA · NVIDIA H100", "CPU · 16 threads — CUDA unavailable:
 * libcudnn.so.9 not found". Providers that are simply absent (not installed, no device) are left
 * out; ones the user half set up, or that loaded and failed their probe, are named with the reason.
 */
export function describeChoice(choice: Pick<SessionChoice, 'ep' | 'attempts' | 'threads'>, detail?: string): string {
  const what =
    choice.ep === 'cpu' ? `CPU · ${choice.threads} thread${choice.threads === 1 ? '' : 's'}` : `${describeEp(choice.ep)}${detail ? ` · ${detail}` : ''}`;
  const passedOver = choice.attempts
    .filter((a) => a.status === 'failed' || a.status === 'rejected')
    .map((a) => `${EP_TITLES[a.ep]} ${a.status === 'rejected' ? 'rejected' : 'unavailable'}: ${a.reason}`);
  return passedOver.length > 0 ? `${what} — ${passedOver.join('; ')}` : what;
}
