// `quantizeModel`: an fp32 ResNet → a statically quantised QDQ copy in the model store, calibrated
// on the given photos, with its fidelity to fp32 measured on photos held back from calibration.
import { createHash } from 'node:crypto';
import * as ort from 'onnxruntime-node';
import '../infer/ort-telemetry.js'; // before the first session: onnxruntime's telemetry off
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import { sha256File } from '../model/download.js';
import { loadAndInspect } from '../model/inspect.js';
import { encodeModel } from '../model/onnx-proto.js';
import { type PreprocessSpec, preprocessFile } from '../preprocess/preprocess.js';
import { type CalibrationMethod, calibrateRanges } from './calibrate.js';
import { softmax, topK } from '../infer/topk.js';
import { type Fidelity, type Int8Record, saveInt8Copy } from './int8-store.js';
import { type ActivationType, absorbRelus, foldBatchNorms, insertQdq, quantisedActivations } from './qdq-graph.js';

export interface QuantizeOptions {
  modelPath: string;
  modelName: string;
  storeDir: string;
  preprocessing: PreprocessSpec;
  /** Photos to calibrate on; every fifth (at least one when there are three or more) is held back for the fidelity figures. */
  images: string[];
  method?: CalibrationMethod;
  activations?: ActivationType;
  threads?: number;
  /** Where the photos came from (calibration-source.ts; stored in the record, shown beside the model's agreement). */
  calibrationSource?: string;
  /** Progress for people: "calibrating 3/40". */
  onProgress?: (message: string) => void;
}

export interface QuantizeResult {
  path: string;
  record: Int8Record;
  /** Photos that could not be read, with why (they are skipped, the rest is used). */
  skipped: { path: string; message: string }[];
}

/** Held back: every fifth photo, so calibration and evaluation both span the folder. */
export function splitHeldBack<T>(items: T[]): { calibration: T[]; heldBack: T[] } {
  if (items.length < 3) return { calibration: items, heldBack: [] };
  // 3 or 4 photos: the last one is held back.
  const held = (i: number): boolean => (items.length < 5 ? i === items.length - 1 : i % 5 === 4);
  return { calibration: items.filter((_, i) => !held(i)), heldBack: items.filter((_, i) => held(i)) };
}

/** The k best class indices, best first (topK's order, without labels). */
const top = (logits: Float32Array, k: number): number[] => topK(logits, k, []).map((c) => c.index);

/** Agreement of int8 logits with fp32 logits, image by image. */
export function compareLogits(fp32: Float32Array[], int8: Float32Array[]): Fidelity {
  let agree = 0;
  let overlap = 0;
  let kl = 0;
  for (let i = 0; i < fp32.length; i++) {
    const a = top(fp32[i], 5);
    const b = top(int8[i], 5);
    if (a[0] === b[0]) agree++;
    overlap += a.filter((c) => b.includes(c)).length / 5;
    const p = softmax(fp32[i]);
    const q = softmax(int8[i]);
    for (let c = 0; c < p.length; c++) if (p[c] > 0) kl += p[c] * Math.log(p[c] / Math.max(q[c], 1e-30));
  }
  const n = Math.max(fp32.length, 1);
  return { images: fp32.length, top1Agreement: agree / n, top5Overlap: overlap / n, meanKl: Math.max(0, kl / n) };
}

async function logitsOf(model: string | Uint8Array, inputName: string, images: Float32Array[], dims: number[], threads?: number): Promise<Float32Array[]> {
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    ...(threads ? { intraOpNumThreads: threads } : {}),
    logSeverityLevel: 3,
  };
  const session = typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
  try {
    const out: Float32Array[] = [];
    for (const image of images) {
      const result = await session.run({ [inputName]: new ort.Tensor('float32', image, dims) });
      out.push(Float32Array.from(result[session.outputNames[0]].data as Float32Array));
    }
    return out;
  } finally {
    await session.release();
  }
}

export async function quantizeModel(options: QuantizeOptions): Promise<QuantizeResult> {
  const method = options.method ?? 'percentile';
  const activations = options.activations ?? 'uint8';
  const say = options.onProgress ?? (() => undefined);
  const { info, model } = await loadAndInspect(options.modelPath);
  const { crop, layout } = options.preprocessing;
  const dims = layout === 'NCHW' ? [1, 3, crop, crop] : [1, crop, crop, 3];

  // Photos → tensors; unreadable ones are skipped with their reason, and hashed for the record.
  const skipped: { path: string; message: string }[] = [];
  const tensors: { path: string; tensor: Float32Array; sha256: string }[] = [];
  for (const file of options.images) {
    try {
      const [{ tensor }, { sha256 }] = await Promise.all([preprocessFile(file, options.preprocessing), sha256File(file)]);
      tensors.push({ path: file, tensor, sha256 });
    } catch (error) {
      skipped.push({ path: file, message: error instanceof Error ? error.message : String(error) });
    }
  }
  if (tensors.length === 0) throw new EngineError(ErrorCode.INVALID_ARGUMENT, `no readable photos to calibrate on (${options.images.length} given)`);
  const { calibration, heldBack } = splitHeldBack(tensors);

  // Ranges are measured on the folded graph with its Relus (so a Relu output's range starts at 0);
  // the quantised graph is the same without them (the Q after each clamps instead).
  const folded = foldBatchNorms(model);
  const graph = absorbRelus(folded);
  const targets = quantisedActivations(graph);
  say(`calibrating ${targets.length} activations on ${calibration.length} photos (${method})`);
  const ranges = await calibrateRanges(
    folded,
    targets,
    calibration.map((t) => t.tensor),
    { name: info.input.name, dims },
    method,
    { threads: options.threads, onImage: (done) => say(`calibrating ${done}/${calibration.length}`) },
  );
  const quantised = encodeModel(insertQdq(graph, { ranges, activations }));

  say(`measuring agreement with fp32 on ${heldBack.length} held-back photos`);
  const heldTensors = heldBack.map((t) => t.tensor);
  const [fp32, int8] = [
    await logitsOf(options.modelPath, info.input.name, heldTensors, dims, options.threads),
    await logitsOf(quantised, info.input.name, heldTensors, dims, options.threads),
  ];
  const fidelity = compareLogits(fp32, int8);

  const record: Int8Record = {
    format: 1,
    sourceSha256: info.sha256,
    sourceName: options.modelName,
    calibrationSha256: createHash('sha256')
      .update(
        calibration
          .map((t) => t.sha256)
          .sort()
          .join('\n'),
      )
      .digest('hex'),
    calibrationImages: calibration.length,
    method,
    ...(options.calibrationSource ? { calibrationSource: options.calibrationSource } : {}),
    activations,
    weights: 'int8 per-channel symmetric',
    fidelity,
    bytes: quantised.byteLength,
    onnxruntime: ort.env.versions.common,
    createdAt: new Date().toISOString(),
  };
  const saved = await saveInt8Copy(options.storeDir, quantised, record);
  return { path: saved.model, record, skipped };
}
