// Creating one onnxruntime session on one provider: the options every session shares, and the CPU
// session's optimised-model cache.
import { mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import './ort-telemetry.js'; // before the first session: onnxruntime's telemetry off
import { pathExists } from '../core/files.js';
import { type Ep } from '../core/vocabulary.js';
import { createAndSaveOrtFormat, openOrtFormat } from './ort-format-cache.js';

// onnxruntime's process-wide logger prints provider load failures (e.g. missing CUDA libraries) to
// stderr even when we recover from them; those reasons are reported through EpAttempt instead.
ort.env.logLevel = 'fatal';

/** A model file path, or the model's bytes (an in-memory edit that has no file). */
export type ModelSource = string | Uint8Array;

/** A session, and whether it came from the optimised-model cache. */
export interface CreatedSession {
  session: ort.InferenceSession;
  fromCache: boolean;
}

/** Where the CPU session's optimised model is cached. */
export interface CpuCacheOptions {
  /** Folder for optimised-model files (CPU only), keyed by the model's SHA-256. */
  cacheDir?: string;
  /** SHA-256 of the model file, for the cache key. */
  modelSha256?: string;
}

/** How long an idle intra-op thread spins for the next operator of a run before it sleeps. */
const SPIN_MICROSECONDS = 100;

export function baseOptions(ep: Ep, threads: number): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [ep],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    // Provider load failures are reported through our attempts list, not onnxruntime's stderr log.
    logSeverityLevel: 4,
    // Spinning, bounded. By default onnxruntime's intra-op threads busy-wait after each run, which on
    // a 2-core machine steals the CPU from whatever runs next (measured: a ResNet-50 run right after
    // another session's took 100 ms instead of 61). Never spinning costs a thread wake-up per
    // operator instead: the feature graph's ~60 short reductions paid ~0.7 ms a run for it. So the
    // threads spin between the operators of a run, at most SPIN_MICROSECONDS, and stop when the run
    // ends (force_spinning_stop). Measured (2-core Xeon, ResNet-50, 2026-12-03): the feature view
    // 32.1 → 31.0 ms, classification 28.6 → 28.2 ms, a classification run right after a feature run
    // 29.0 vs 29.1 ms (nothing stolen), 200-photo classify against inference alone 0.65/0.67 vs
    // 0.66/0.71 (within the bench's spread).
    extra: { session: { intra_op: { allow_spinning: '1', spin_duration_us: String(SPIN_MICROSECONDS) }, force_spinning_stop: '1' } },
  };
}

function cachePath(options: CpuCacheOptions, ep: Ep): string | undefined {
  if (!options.cacheDir || !options.modelSha256 || ep !== 'cpu') return undefined;
  // The optimised graph is specific to this onnxruntime build and CPU (NCHWc layouts, fused kernels).
  const key = `${options.modelSha256.slice(0, 32)}-ort${ort.env.versions.common}-${process.arch}-${os.cpus()[0]?.model.replace(/[^A-Za-z0-9]+/g, '_') ?? 'cpu'}`;
  // .ort: onnxruntime's own format, which loads without parsing protobuf (see ort-format-cache.ts).
  return path.join(options.cacheDir, 'optimized', `${key}.ort`);
}

export async function createCpuSession(modelPath: ModelSource, options: CpuCacheOptions, threads: number): Promise<CreatedSession> {
  const cached = cachePath(options, 'cpu');
  if (cached && (await pathExists(cached))) {
    try {
      const session = await openOrtFormat(cached, baseOptions('cpu', threads));
      return { session, fromCache: true };
    } catch {
      await rm(cached, { force: true }); // stale or damaged cache entry: rebuild below
    }
  }
  if (cached) await mkdir(path.dirname(cached), { recursive: true });
  const session = cached
    ? await createAndSaveOrtFormat(cached, (o) => createWith(modelPath, o), baseOptions('cpu', threads))
    : await createWith(modelPath, baseOptions('cpu', threads));
  return { session, fromCache: false };
}

export function createWith(source: ModelSource, options: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> {
  return typeof source === 'string' ? ort.InferenceSession.create(source, options) : ort.InferenceSession.create(source, options);
}
