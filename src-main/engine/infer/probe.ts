// The probe: one fixed input through a GPU provider's session and through the CPU's, so that a GPU
// session is trusted only once its numbers match (and, under auto, once it is faster).
import * as ort from 'onnxruntime-node';
import { type Ep } from '../core/vocabulary.js';
import { GATE_INPUT_PREFIX, GRADIENT_CLASSES, GUIDED_SWITCH, SWITCH_INPUTS } from '../model/reduction-graph.js';
import { shortReason } from './ort-reason.js';
import { EP_TITLES, PROBE_TOLERANCE } from './providers.js';

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

export interface ProbeSpec {
  /** Input dims for the probe (default: the model's, with symbolic dims as 1 for the batch and 224 elsewhere). */
  dims?: number[];
  /** Output compared with the CPU (default: the model's first output). */
  output?: string;
}

export interface ProbeComparison {
  maxAbsDiff: number;
  maxRelDiff: number;
  finite: boolean;
  top5Equal: boolean;
}

/** Milliseconds to 0.1, for records people and JSON read. */
export const round1 = (ms: number): number => Math.round(ms * 10) / 10;

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

/** The probe image, and every extra input of the engine's own graphs set so the logits are the intact network's. */
function probeFeeds(session: ort.InferenceSession, dims: number[]): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = { [session.inputNames[0]]: new ort.Tensor('float32', probeInput(dims), dims) };
  // A feature graph's reduction switches stay off: the probe compares the logits alone.
  for (const name of session.inputNames) if (SWITCH_INPUTS.includes(name)) feeds[name] = new ort.Tensor('bool', [false], []);
  // A gradient graph (explain/backward-graph.ts) needs its seed class and guided switch.
  if (session.inputNames.includes(GRADIENT_CLASSES)) feeds[GRADIENT_CLASSES] = new ort.Tensor('int64', BigInt64Array.from([0n]), [1]);
  if (session.inputNames.includes(GUIDED_SWITCH)) feeds[GUIDED_SWITCH] = new ort.Tensor('bool', [false], []);
  // A gated graph's block gates (blocks/gated-graph.ts) stay at 1: the intact network.
  for (const name of session.inputNames) if (name.startsWith(GATE_INPUT_PREFIX)) feeds[name] = new ort.Tensor('float32', [1], []);
  return feeds;
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

/**
 * Runs the probe on `session` against the `cpu` reference. `speed.measure` times a warm run;
 * `speed.enforce` (auto) also rejects a provider slower than the CPU once warm.
 */
export async function runProbe(
  ep: Ep,
  session: ort.InferenceSession,
  cpu: ort.InferenceSession,
  spec: ProbeSpec,
  speed: { measure: boolean; enforce: boolean },
): Promise<ProbeResult> {
  const output = spec.output ?? session.outputNames[0];
  const feeds = probeFeeds(session, probeDims(session, spec));
  const reference = await timedRun(cpu, feeds, output);
  const tolerance = PROBE_TOLERANCE[ep];
  let first: { data: Float32Array; ms: number };
  try {
    first = await timedRun(session, feeds, output);
  } catch (error) {
    const reason = `probe inference failed: ${shortReason(error)}`;
    return { passed: false, maxAbsDiff: Infinity, maxRelDiff: Infinity, tolerance, top5Equal: false, firstMs: 0, cpuMs: reference.ms, reason };
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
  if (!speed.measure && !speed.enforce) return result;
  const warm = await timedRun(session, feeds, output);
  result.warmMs = warm.ms;
  if (speed.enforce && warm.ms > reference.ms) {
    return {
      ...result,
      passed: false,
      reason: `slower than the CPU on the probe (${warm.ms.toFixed(0)} ms vs ${reference.ms.toFixed(0)} ms once warm; a software adapter?)`,
    };
  }
  return result;
}
