// Creates onnxruntime sessions: one provider at a time (onnxruntime-node throws rather than falling
// back when a listed provider cannot load), recording why each one was passed over; probes every
// GPU session against the CPU before trusting it; and wraps the chosen session in a runner that
// moves to the CPU if the GPU fails mid-run. The rule is written out in providers.ts.
import { mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import './ort-telemetry.js'; // before the first session: onnxruntime's telemetry off
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import { pathExists } from '../core/files.js';
import { GATE_INPUT_PREFIX, GRADIENT_CLASSES, GUIDED_SWITCH, SWITCH_INPUTS } from '../model/reduction-graph.js';
import { diagnoseCuda, gpuDeviceNodes } from './hardware.js';
import { createAndSaveOrtFormat, openOrtFormat } from './ort-format-cache.js';
import { EP_TITLES, PROBE_TOLERANCE, autoOrder, describeEp, isGpuEp } from './providers.js';
import { type Ep, type EpRequest } from '../core/vocabulary.js';

// onnxruntime's process-wide logger prints provider load failures (e.g. missing CUDA libraries) to
// stderr even when we recover from them; those reasons are reported through EpAttempt instead.
ort.env.logLevel = 'fatal';

/**
 * ok: chosen. unavailable: not installed, not in this build, or no device for it (nothing the user
 * half set up). failed: present but would not load. rejected: loaded, then failed its probe (wrong
 * numbers, or under auto slower than the CPU).
 */
export type AttemptStatus = 'ok' | 'unavailable' | 'failed' | 'rejected';

export interface ProbeResult {
  passed: boolean;
  /** Largest |provider − cpu| over the probe output. */
  maxAbsDiff: number;
  /** maxAbsDiff / largest |cpu| value. */
  maxRelDiff: number;
  tolerance: number;
  /** Whether the five largest outputs are the same classes in the same order. */
  top5Equal: boolean;
  /** The provider's first run (includes shader compilation or kernel selection), ms. */
  firstMs: number;
  /** A second, warm run, ms; measured under auto (the speed rule) or when asked. */
  warmMs?: number;
  /** The CPU reference run, ms. */
  cpuMs: number;
  /** Why it failed, when passed is false. */
  reason?: string;
}

export interface EpAttempt {
  ep: Ep;
  ok: boolean;
  status: AttemptStatus;
  /** Why it was not used, when ok is false. */
  reason?: string;
  /** The probe against the CPU, for GPU providers that loaded. */
  probe?: ProbeResult;
  /** Time spent on this attempt (load, and probe when one ran), ms. */
  ms: number;
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

export interface ProbeSpec {
  /** Input dims for the probe (default: the model's, with symbolic dims as 1 for the batch and 224 elsewhere). */
  dims?: number[];
  /** Output compared with the CPU (default: the model's first output). */
  output?: string;
}

export interface SessionOptions {
  ep: EpRequest;
  /** Intra-op threads; defaults to the machine's available parallelism. */
  threads?: number;
  /** Folder for optimised-model files (CPU only), keyed by the model's SHA-256. */
  cacheDir?: string;
  /** SHA-256 of the model file, for the cache key. */
  modelSha256?: string;
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

/** Milliseconds to 0.1, for records people and JSON read. */
const round1 = (ms: number): number => Math.round(ms * 10) / 10;

/** Only the first line: onnxruntime appends source locations and stack-like detail. */
export function shortReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message
    .split('\n')[0]
    .replace(/^\/onnxruntime_src\/\S+\s*/, '') // source location
    .replace(/^[\w:~]+\([^)]*\)(?:::<lambda\(\)>)?\s+/, '') // C++ function signature
    .replace(/^.*? was false\. /, '') // the failed check's expression, before its message
    .slice(0, 300);
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
    // onnxruntime's intra-op threads busy-wait after each run by default. On a 2-core machine that
    // steals the CPU from whatever runs next: the batch pipeline's decoders, or another session
    // (measured: a ResNet-50 run right after another session's took 100 ms instead of 61). Without
    // spinning a lone session runs as fast (59.7 vs 59.5 ms).
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
}

function cachePath(options: Pick<SessionOptions, 'cacheDir' | 'modelSha256'>, ep: Ep): string | undefined {
  if (!options.cacheDir || !options.modelSha256 || ep !== 'cpu') return undefined;
  // The optimised graph is specific to this onnxruntime build and CPU (NCHWc layouts, fused kernels).
  const key = `${options.modelSha256.slice(0, 32)}-ort${ort.env.versions.common}-${process.arch}-${os.cpus()[0]?.model.replace(/[^A-Za-z0-9]+/g, '_') ?? 'cpu'}`;
  // .ort: onnxruntime's own format, loaded in place (see ort-format-cache.ts).
  return path.join(options.cacheDir, 'optimized', `${key}.ort`);
}

async function createCpuSession(
  modelPath: ModelSource,
  options: Pick<SessionOptions, 'cacheDir' | 'modelSha256'>,
  threads: number,
): Promise<{ session: ort.InferenceSession; fromCache: boolean }> {
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

function createWith(source: ModelSource, options: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> {
  return typeof source === 'string' ? ort.InferenceSession.create(source, options) : ort.InferenceSession.create(source, options);
}

/** A model file path, or the model's bytes (an in-memory edit that has no file). */
export type ModelSource = string | Uint8Array;

/** Why auto passes over a provider without trying it, or undefined to try it. */
export function autoSkipReason(ep: Ep, platform: NodeJS.Platform = process.platform, deviceNodes: string[] = gpuDeviceNodes(platform)): string | undefined {
  if (ep === 'webgpu' && platform === 'linux' && deviceNodes.length === 0) {
    return 'no GPU device (/dev/dri/renderD*, /dev/nvidia*): WebGPU could only use a software Vulkan adapter such as Mesa lavapipe, far slower than the CPU (--ep webgpu forces it)';
  }
  return undefined;
}

/** Turns a load failure into a reason a person can act on, and whether anything was installed at all. */
async function explainLoadFailure(ep: Ep, error: unknown): Promise<{ reason: string; status: AttemptStatus }> {
  const raw = shortReason(error);
  if (/backend not found/.test(raw)) {
    const where = { dml: ' (DirectML is Windows-only)', coreml: ' (CoreML is macOS-only)', cuda: '', webgpu: '', cpu: '' }[ep];
    return { reason: `not part of onnxruntime-node ${ort.env.versions.common} for ${process.platform}-${process.arch}${where}`, status: 'unavailable' };
  }
  if (ep === 'cuda') {
    const diagnosis = await diagnoseCuda();
    if (diagnosis) return { reason: diagnosis, status: /not installed|no CUDA provider/.test(diagnosis) ? 'unavailable' : 'failed' };
  }
  if (ep === 'webgpu' && /No supported adapters|Failed to get a WebGPU adapter/i.test(raw)) {
    return {
      reason: `no WebGPU adapter (${process.platform === 'linux' ? 'install libvulkan1 and a Vulkan driver, e.g. mesa-vulkan-drivers' : 'no usable GPU driver'})`,
      status: 'unavailable',
    };
  }
  return { reason: raw, status: 'failed' };
}

// ---------------------------------------------------------------------------------------------
// The probe: one fixed input through the provider and through the CPU.

/** A deterministic image-like input: smooth gradients plus noise, in the range of normalised pixels. */
export function probeInput(dims: readonly number[]): Float32Array {
  const total = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(total);
  const width = dims[dims.length - 1] || 1;
  let seed = 12345;
  for (let i = 0; i < total; i++) {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    const x = (i % width) / width;
    const y = (Math.floor(i / width) % width) / width;
    data[i] = Math.sin(6 * x + 3 * y + Math.floor(i / (width * width))) * 1.2 + ((seed >>> 8) / 2 ** 24 - 0.5) * 1.6;
  }
  return data;
}

function probeDims(session: ort.InferenceSession, spec: ProbeSpec): number[] {
  if (spec.dims) return spec.dims;
  const meta = session.inputMetadata[0];
  const shape = meta && meta.isTensor ? meta.shape : [];
  if (shape.length === 0) return [1, 3, 224, 224];
  return shape.map((d, i) => (typeof d === 'number' && d > 0 ? d : i === 0 ? 1 : 224));
}

async function timedRun(session: ort.InferenceSession, feeds: ort.InferenceSession.FeedsType, output: string): Promise<{ data: Float32Array; ms: number }> {
  const start = performance.now();
  const result = await session.run(feeds, [output]);
  const ms = round1(performance.now() - start);
  return { data: result[output].data as Float32Array, ms };
}

function top5(values: Float32Array): number[] {
  return Array.from(values.keys())
    .sort((a, b) => values[b] - values[a] || a - b)
    .slice(0, 5);
}

export interface ProbeComparison {
  maxAbsDiff: number;
  maxRelDiff: number;
  finite: boolean;
  top5Equal: boolean;
}

/** Differences between a provider's output and the CPU's (relative to the largest CPU magnitude). */
export function compareOutputs(candidate: Float32Array, reference: Float32Array): ProbeComparison {
  let maxAbsDiff = 0;
  let scale = 0;
  let finite = candidate.length === reference.length;
  for (let i = 0; i < reference.length; i++) {
    const c = candidate[i];
    if (!Number.isFinite(c)) finite = false;
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs(c - reference[i]));
    scale = Math.max(scale, Math.abs(reference[i]));
  }
  const top5Equal = finite && top5(candidate).join() === top5(reference).join();
  return { maxAbsDiff: finite ? maxAbsDiff : Infinity, maxRelDiff: finite ? maxAbsDiff / Math.max(scale, 1e-12) : Infinity, finite, top5Equal };
}

async function runProbe(
  ep: Ep,
  session: ort.InferenceSession,
  cpu: ort.InferenceSession,
  spec: ProbeSpec,
  speed: { measure: boolean; enforce: boolean },
): Promise<ProbeResult> {
  const dims = probeDims(session, spec);
  const output = spec.output ?? session.outputNames[0];
  const tensor = new ort.Tensor('float32', probeInput(dims), dims);
  const feeds: Record<string, ort.Tensor> = { [session.inputNames[0]]: tensor };
  // A feature graph's reduction switches stay off: the probe compares the logits alone.
  for (const name of session.inputNames) if (SWITCH_INPUTS.includes(name)) feeds[name] = new ort.Tensor('bool', [false], []);
  // A gradient graph (explain/backward-graph.ts) needs its seed class and guided switch.
  if (session.inputNames.includes(GRADIENT_CLASSES)) feeds[GRADIENT_CLASSES] = new ort.Tensor('int64', BigInt64Array.from([0n]), [1]);
  if (session.inputNames.includes(GUIDED_SWITCH)) feeds[GUIDED_SWITCH] = new ort.Tensor('bool', [false], []);
  // A gated graph's block gates (blocks/gated-graph.ts) stay at 1: the intact network.
  for (const name of session.inputNames) if (name.startsWith(GATE_INPUT_PREFIX)) feeds[name] = new ort.Tensor('float32', [1], []);
  const reference = await timedRun(cpu, feeds, output);
  const tolerance = PROBE_TOLERANCE[ep];
  let first: { data: Float32Array; ms: number };
  try {
    first = await timedRun(session, feeds, output);
  } catch (error) {
    return {
      passed: false,
      maxAbsDiff: Infinity,
      maxRelDiff: Infinity,
      tolerance,
      top5Equal: false,
      firstMs: 0,
      cpuMs: reference.ms,
      reason: `probe inference failed: ${shortReason(error)}`,
    };
  }
  const cmp = compareOutputs(first.data, reference.data);
  const result: ProbeResult = {
    passed: true,
    maxAbsDiff: cmp.maxAbsDiff,
    maxRelDiff: cmp.maxRelDiff,
    tolerance,
    top5Equal: cmp.top5Equal,
    firstMs: first.ms,
    cpuMs: reference.ms,
  };
  if (!cmp.finite) return { ...result, passed: false, reason: 'probe output has NaN or infinite values' };
  if (cmp.maxRelDiff > tolerance) {
    return {
      ...result,
      passed: false,
      reason: `probe output differs from the CPU by ${cmp.maxRelDiff.toExponential(2)} (relative), over the ${tolerance.toExponential(0)} allowed for ${EP_TITLES[ep]}`,
    };
  }
  if (speed.measure || speed.enforce) {
    const warm = await timedRun(session, feeds, output);
    result.warmMs = warm.ms;
    if (speed.enforce && warm.ms > reference.ms) {
      return {
        ...result,
        passed: false,
        reason: `slower than the CPU on the probe (${warm.ms.toFixed(0)} ms vs ${reference.ms.toFixed(0)} ms once warm; a software adapter?)`,
      };
    }
  }
  return result;
}

// ---------------------------------------------------------------------------------------------

interface AttemptContext {
  modelPath: ModelSource;
  threads: number;
  auto: boolean;
  deviceCheck: boolean;
  probeSpec?: ProbeSpec;
  measureSpeed: boolean;
  getCpu: () => Promise<{ session: ort.InferenceSession; fromCache: boolean }>;
}

/** One provider: load it, probe it when it is a GPU; the session comes back only when it is trusted. */
async function attemptProvider(ep: Ep, ctx: AttemptContext): Promise<{ attempt: EpAttempt; created?: { session: ort.InferenceSession; fromCache: boolean } }> {
  const start = performance.now();
  const skip = ctx.auto && ctx.deviceCheck && ep !== 'cpu' ? autoSkipReason(ep) : undefined;
  if (skip) return { attempt: { ep, ok: false, status: 'unavailable', reason: skip, ms: 0 } };
  let created: { session: ort.InferenceSession; fromCache: boolean };
  try {
    created = ep === 'cpu' ? await ctx.getCpu() : { session: await createWith(ctx.modelPath, baseOptions(ep, ctx.threads)), fromCache: false };
  } catch (error) {
    const { reason, status } = await explainLoadFailure(ep, error);
    return { attempt: { ep, ok: false, status, reason, ms: round1(performance.now() - start) } };
  }
  if (!isGpuEp(ep) || !ctx.probeSpec) return { attempt: { ep, ok: true, status: 'ok', ms: round1(performance.now() - start) }, created };
  let probe: ProbeResult;
  try {
    probe = await runProbe(ep, created.session, (await ctx.getCpu()).session, ctx.probeSpec, { measure: ctx.measureSpeed, enforce: ctx.auto });
  } catch (error) {
    await created.session.release().catch(() => undefined);
    throw error; // the CPU reference itself failed: the model is the problem, not the provider
  }
  if (!probe.passed) {
    await created.session.release().catch(() => undefined);
    return { attempt: { ep, ok: false, status: 'rejected', reason: probe.reason, probe, ms: round1(performance.now() - start) } };
  }
  return { attempt: { ep, ok: true, status: 'ok', probe, ms: round1(performance.now() - start) }, created };
}

function probeSpecOf(options: Pick<SessionOptions, 'probe'>): ProbeSpec | undefined {
  return options.probe === false ? undefined : options.probe === true || options.probe === undefined ? {} : options.probe;
}

export async function createSession(modelPath: ModelSource, options: SessionOptions): Promise<SessionChoice> {
  const threads = options.threads ?? os.availableParallelism();
  const auto = options.ep === 'auto';
  const order: Ep[] = auto ? (options.order ?? autoOrder()) : [options.ep as Ep];
  const attempts: EpAttempt[] = [];
  const start = performance.now();
  // The CPU session made as the probe's reference is reused if the CPU ends up chosen.
  let cpu: { session: ort.InferenceSession; fromCache: boolean } | undefined;
  const ctx: AttemptContext = {
    modelPath,
    threads,
    auto,
    deviceCheck: options.deviceCheck !== false,
    probeSpec: probeSpecOf(options),
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
  const last = attempts[attempts.length - 1];
  // The CPU provider is always there: when it cannot load the model, the model is the problem.
  if (!auto && options.ep !== 'cpu') {
    throw new EngineError(ErrorCode.EP_UNAVAILABLE, `execution provider '${options.ep}' is unavailable: ${last?.reason ?? 'unknown reason'}`);
  }
  if (!auto) throw new EngineError(ErrorCode.INVALID_MODEL, `onnxruntime cannot load the model on the CPU: ${last?.reason ?? 'unknown reason'}`);
  throw new EngineError(ErrorCode.INVALID_MODEL, `no execution provider could load the model: ${attempts.map((a) => `${a.ep}: ${a.reason}`).join('; ')}`);
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
  let cpu: { session: ort.InferenceSession; fromCache: boolean } | undefined;
  const ctx: AttemptContext = {
    modelPath,
    threads,
    auto: false,
    deviceCheck: false,
    probeSpec: probeSpecOf(options),
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

// ---------------------------------------------------------------------------------------------
// Mid-run fallback

export interface FallbackEvent {
  from: Ep;
  to: 'cpu';
  reason: string;
  /** For people: "cuda failed mid-run (…); the rest runs on the CPU". */
  message: string;
}

/** The parts of an onnxruntime session the runner uses (a fake in unit tests). */
export type RunnableSession = Pick<ort.InferenceSession, 'run' | 'release'>;

/**
 * Runs on the chosen session; if a GPU run fails (device lost, out of memory), retries the same
 * run on a CPU session and, when that succeeds, stays on the CPU for the rest of the work. When the
 * CPU fails as well, the input is at fault, not the GPU: the error is thrown and the GPU kept.
 */
export class SessionRunner {
  private session: RunnableSession;
  private current: Ep;
  private switching?: Promise<RunnableSession>;
  fallback?: FallbackEvent;

  constructor(
    session: RunnableSession,
    ep: Ep,
    private readonly createCpu: () => Promise<RunnableSession>,
    private readonly onFallback?: (event: FallbackEvent) => void,
  ) {
    this.session = session;
    this.current = ep;
  }

  get ep(): Ep {
    return this.current;
  }

  async run(feeds: ort.InferenceSession.FeedsType, fetches: ort.InferenceSession.FetchesType): Promise<{ outputs: ort.InferenceSession.ReturnType; ep: Ep }> {
    const session = this.session;
    const ep = this.current;
    try {
      return { outputs: await session.run(feeds, fetches), ep };
    } catch (error) {
      if (ep === 'cpu') throw error;
      // Another batch may already have switched while this one ran.
      const cpu = this.current === 'cpu' ? this.session : await (this.switching ??= this.createCpu());
      const outputs = await cpu.run(feeds, fetches); // throws if the CPU fails too: keep the GPU
      if (this.current !== 'cpu') {
        const reason = shortReason(error);
        this.session = cpu;
        this.current = 'cpu';
        this.fallback = { from: ep, to: 'cpu', reason, message: `${EP_TITLES[ep]} failed mid-run (${reason}); the rest runs on the CPU` };
        await session.release().catch(() => undefined);
        this.onFallback?.(this.fallback);
      }
      return { outputs, ep: 'cpu' };
    }
  }

  async release(): Promise<void> {
    await this.session.release();
    if (this.switching && this.current !== 'cpu') await (await this.switching.catch(() => undefined))?.release();
  }
}

/** A runner whose CPU fallback session is made from the same model, threads and cache. */
export function runnerFor(
  choice: SessionChoice,
  source: ModelSource,
  options: Pick<SessionOptions, 'threads' | 'cacheDir' | 'modelSha256'>,
  onFallback?: (event: FallbackEvent) => void,
): SessionRunner {
  return new SessionRunner(choice.session, choice.ep, async () => (await createCpuSession(source, options, choice.threads)).session, onFallback);
}
