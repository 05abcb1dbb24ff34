// Calibration: the fp32 graph run on real photos with every tensor that will be quantised fetched
// as an extra output, reduced to one range per tensor. MinMax keeps the extremes over all photos;
// percentile clips each photo's tails at 0.01% / 99.99% (estimated from an even subsample of at
// most 65,536 values per tensor and photo) and averages over photos, which spends the 8 bits on
// the values that occur instead of on rare outliers; entropy picks each tensor's clip by the KL
// divergence of its 8-bit histogram (entropy.ts; it runs the photos twice: extremes, then histograms).
import * as ort from 'onnxruntime-node';
import '../infer/ort-telemetry.js'; // before the first session: onnxruntime's telemetry off
import { type OnnxModel, TensorDataType, encodeModel } from '../model/onnx-proto.js';
import type { Range } from './qdq-graph.js';
import { MagnitudeHistogram } from './entropy.js';

import type { CalibrationMethod } from './names.js';

export { CALIBRATION_METHODS, type CalibrationMethod } from './names.js';

const PERCENTILE = 99.99;
const SAMPLE = 65_536;

/** `model` with `tensors` appended to its outputs (float, shape left to onnxruntime). */
function withOutputs(model: OnnxModel, tensors: string[]): OnnxModel {
  const existing = new Set(model.graph.output.map((o) => o.name));
  const added = tensors.filter((t) => !existing.has(t)).map((name) => ({ name, type: { tensorType: { elemType: TensorDataType.FLOAT } } }));
  return { ...model, graph: { ...model.graph, output: [...model.graph.output, ...added] } };
}

function tails(values: Float32Array): Range {
  const step = Math.max(1, Math.floor(values.length / SAMPLE));
  const sample = new Float32Array(Math.ceil(values.length / step));
  for (let i = 0, j = 0; i < values.length; i += step, j++) sample[j] = values[i];
  sample.sort();
  const at = (p: number): number => sample[Math.min(sample.length - 1, Math.max(0, Math.round((p / 100) * (sample.length - 1))))];
  return { min: at(100 - PERCENTILE), max: at(PERCENTILE) };
}

function extremes(values: Float32Array): Range {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max };
}

export interface CalibrationInput {
  name: string;
  dims: number[];
}

/** One range per tensor over `images` (each one preprocessed image, `input.dims` with batch 1). */
export async function calibrateRanges(
  model: OnnxModel,
  tensors: string[],
  images: Float32Array[],
  input: CalibrationInput,
  method: CalibrationMethod,
  options: { threads?: number; onImage?: (done: number) => void } = {},
): Promise<Map<string, Range>> {
  const session = await ort.InferenceSession.create(encodeModel(withOutputs(model, tensors)), {
    executionProviders: ['cpu'],
    // Basic optimisations only: fusions could drop the tensors being measured.
    graphOptimizationLevel: 'basic',
    ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
    logSeverityLevel: 3,
  });
  /** Runs every photo through the session, handing each tensor's values to `use`. */
  const pass = async (use: (name: string, values: Float32Array) => void, progress?: (done: number) => void): Promise<void> => {
    for (const [index, image] of images.entries()) {
      const outputs = await session.run({ [input.name]: new ort.Tensor('float32', image, input.dims) }, tensors);
      for (const name of tensors) use(name, outputs[name].data as Float32Array);
      progress?.(index + 1);
    }
  };
  const sums = new Map<string, Range>();
  try {
    if (method === 'entropy') {
      // First the extremes (the histograms' top edge), then the histograms; progress counts the second pass.
      const extremesSeen = new Map<string, Range>();
      await pass((name, values) => {
        const range = extremes(values);
        const seen = extremesSeen.get(name);
        extremesSeen.set(name, seen ? { min: Math.min(seen.min, range.min), max: Math.max(seen.max, range.max) } : range);
      });
      const histograms = new Map([...extremesSeen].map(([name, r]) => [name, new MagnitudeHistogram(Math.max(Math.abs(r.min), Math.abs(r.max)))]));
      await pass((name, values) => histograms.get(name)?.add(values), options.onImage);
      return new Map([...histograms].map(([name, histogram]) => [name, histogram.range()]));
    }
    await pass((name, values) => {
      const range = method === 'minmax' ? extremes(values) : tails(values);
      const sum = sums.get(name);
      if (!sum) sums.set(name, { ...range });
      else if (method === 'minmax') sums.set(name, { min: Math.min(sum.min, range.min), max: Math.max(sum.max, range.max) });
      else sums.set(name, { min: sum.min + range.min, max: sum.max + range.max });
    }, options.onImage);
  } finally {
    await session.release();
  }
  if (method === 'minmax') return sums;
  return new Map([...sums].map(([name, sum]) => [name, { min: sum.min / images.length, max: sum.max / images.length }]));
}
