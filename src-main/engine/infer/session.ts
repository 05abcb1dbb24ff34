// Creates onnxruntime sessions: one provider at a time (onnxruntime-node throws rather than falling
// back when a listed provider cannot load), recording why each one was passed over.
import { mkdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { EngineError, ErrorCode } from '../errors.js';
import { type Ep, type EpRequest, autoOrder } from './providers.js';

// onnxruntime's process-wide logger prints provider load failures (e.g. missing CUDA libraries) to
// stderr even when we recover from them; those reasons are reported through EpAttempt instead.
ort.env.logLevel = 'fatal';

export interface EpAttempt {
  ep: Ep;
  ok: boolean;
  /** Why it was not used (load failure message), when ok is false. */
  reason?: string;
}

export interface SessionChoice {
  session: ort.InferenceSession;
  ep: Ep;
  attempts: EpAttempt[];
  threads: number;
  /** Whether the session came from the optimised-model cache. */
  fromCache: boolean;
  createMs: number;
}

export interface SessionOptions {
  ep: EpRequest;
  /** Intra-op threads; defaults to the machine's available parallelism. */
  threads?: number;
  /** Folder for optimised-model files (CPU only), keyed by the model's SHA-256. */
  cacheDir?: string;
  /** SHA-256 of the model file, for the cache key. */
  modelSha256?: string;
}

/** Only the first line: onnxruntime appends source locations and stack-like detail. */
function shortReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0].replace(/^\/onnxruntime_src\/\S+\s*/, '').slice(0, 300);
}

function baseOptions(ep: Ep, threads: number): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [ep],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    // Provider load failures are reported through our attempts list, not onnxruntime's stderr log.
    logSeverityLevel: 4,
  };
}

function cachePath(options: SessionOptions, ep: Ep): string | undefined {
  if (!options.cacheDir || !options.modelSha256 || ep !== 'cpu') return undefined;
  // The optimised graph is specific to this onnxruntime build and CPU (NCHWc layouts, fused kernels).
  const key = `${options.modelSha256.slice(0, 32)}-ort${ort.env.versions.common}-${process.arch}-${os.cpus()[0]?.model.replace(/[^A-Za-z0-9]+/g, '_') ?? 'cpu'}`;
  return path.join(options.cacheDir, 'optimized', `${key}.onnx`);
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(() => true, () => false);
}

async function createCpuSession(modelPath: ModelSource, options: SessionOptions, threads: number): Promise<{ session: ort.InferenceSession; fromCache: boolean }> {
  const cached = cachePath(options, 'cpu');
  if (cached && (await exists(cached))) {
    try {
      const session = await ort.InferenceSession.create(cached, { ...baseOptions('cpu', threads), graphOptimizationLevel: 'disabled' });
      return { session, fromCache: true };
    } catch {
      await rm(cached, { force: true }); // stale or damaged cache entry: rebuild below
    }
  }
  if (cached) await mkdir(path.dirname(cached), { recursive: true });
  const session = await createWith(modelPath, cached ? { ...baseOptions('cpu', threads), optimizedModelFilePath: cached } : baseOptions('cpu', threads));
  return { session, fromCache: false };
}

function createWith(source: ModelSource, options: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> {
  return typeof source === 'string' ? ort.InferenceSession.create(source, options) : ort.InferenceSession.create(source, options);
}

/** A model file path, or the model's bytes (an in-memory edit that has no file). */
export type ModelSource = string | Uint8Array;

export async function createSession(modelPath: ModelSource, options: SessionOptions): Promise<SessionChoice> {
  const threads = options.threads ?? os.availableParallelism();
  const order: Ep[] = options.ep === 'auto' ? autoOrder() : [options.ep];
  const attempts: EpAttempt[] = [];
  const start = performance.now();
  for (const ep of order) {
    try {
      const { session, fromCache } =
        ep === 'cpu' ? await createCpuSession(modelPath, options, threads) : { session: await createWith(modelPath, baseOptions(ep, threads)), fromCache: false };
      attempts.push({ ep, ok: true });
      return { session, ep, attempts, threads, fromCache, createMs: performance.now() - start };
    } catch (error) {
      attempts.push({ ep, ok: false, reason: shortReason(error) });
    }
  }
  const last = attempts[attempts.length - 1];
  if (options.ep !== 'auto') {
    throw new EngineError(ErrorCode.EP_UNAVAILABLE, `execution provider '${options.ep}' is unavailable: ${last?.reason ?? 'unknown reason'}`);
  }
  throw new EngineError(ErrorCode.INVALID_MODEL, `no execution provider could load the model: ${attempts.map((a) => `${a.ep}: ${a.reason}`).join('; ')}`);
}
