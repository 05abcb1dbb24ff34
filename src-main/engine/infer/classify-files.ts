// Files → results, in input order, and a bad file becomes an error result while the rest continue.
// The next batch's decode starts before the current one's inference: libvips decodes on its own
// threads meanwhile, while the JS half (the Pillow-exact resize, ~1 ms a 900×600 photo in
// WebAssembly SIMD, 5–7 ms in plain JavaScript) waits, because onnxruntime-node's run() blocks the
// JS thread. Worker threads for that half (as the batch pipeline has) were measured slower here:
// 200 small JPEGs with ResNet-50 on 2 cores went from 29–30 to 26 img/s steady, the workers and
// onnxruntime's two threads contending for the cores. Steady state now (Intel Xeon, 2026-12-04):
// 30.6–31.9 img/s, 5.5 of 6.4 s in inference.
import { type ErrorInfo, toErrorInfo } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import type { WalkItem } from '../core/files.js';
import { type PreprocessSpec, preprocessFile } from '../preprocess/preprocess.js';
import { type RunOutcome, assembleResult, runBatch } from './assemble.js';
import { defaultBatchSize } from './providers.js';
import type { Classifier } from './classifier.js';
import type { ClassScore } from './topk.js';

export interface ClassifySuccess {
  path: string;
  top: ClassScore[];
  model: string;
  ep: string;
  /** This image's decode + preprocessing plus its share of the batch's inference time. */
  ms: number;
  /** `ms` apart, plus the time its run waited for the model (another run in progress): what a card shows. */
  timings?: ClassifyTimings;
  /** Present (as 'int8') when a quantised copy computed the result. */
  precision?: 'int8';
  /** Queue mode only: the worker that classified the image (host:pid). */
  worker?: string;
  /** What a specialised run adds per image (a lesion study's per-block outcomes); journaled, not part of classify --json. */
  details?: unknown;
}
export interface ClassifyFailure {
  path: string;
  error: Omit<ErrorInfo, 'item'>;
  /** Queue mode only: the worker that reported the error (host:pid), when one did. */
  worker?: string;
}
export type ClassifyResult = ClassifySuccess | ClassifyFailure;

export interface ClassifyTimings {
  /** Waiting in line: the run waited this long for the model (a batch's run in progress). */
  waitMs: number;
  /** Reading, decoding, resizing and normalising the photo. */
  decodeMs: number;
  /** This image's share of its run's inference. */
  inferenceMs: number;
}

export { precisionField } from './assemble.js';

export const isFailure = (result: ClassifyResult): result is ClassifyFailure => 'error' in result;

export interface ClassifyFilesOptions {
  top?: number;
  /** Images per inference run (default: the classifier's, which depends on the provider). */
  batchSize?: number;
  maxPixels?: number;
  signal?: AbortSignal;
  /**
   * The model's preprocessing, when `classifier` is still loading (a promise): the first images are
   * decoded while the session starts. One-photo `reslens classify` spends ~0.1–0.25 s decoding a
   * 4 MP JPEG (libvips' first decode of the process, on its own threads) which then overlaps the
   * session's creation instead of following it.
   */
  preprocessing?: PreprocessSpec;
  /** Runs the inferences instead of the classifier's own session (the block lens for --drop-blocks). */
  infer?: (batch: Float32Array, count: number) => Promise<{ logits: Float32Array[]; inferenceMs: number; epByImage: string[] }>;
}

interface Prepared {
  items: WalkItem[];
  tensor: Float32Array;
  /** Per item: slot in the tensor and preprocessing ms, or its error. */
  slots: ({ slot: number; ms: number } | { error: Omit<ErrorInfo, 'item'> })[];
  count: number;
}

async function prepare(spec: PreprocessSpec, items: WalkItem[], maxPixels?: number): Promise<Prepared> {
  const size = 3 * spec.crop * spec.crop;
  const tensor = new Float32Array(items.length * size);
  let count = 0;
  const slots = await Promise.all(
    items.map(async (item) => {
      if ('error' in item) return { error: item.error };
      try {
        const slot = count++;
        const result = await preprocessFile(item.path, spec, { maxPixels, target: tensor, offset: slot * size });
        return { slot, ms: result.timings.decodeMs + result.timings.resizeMs };
      } catch (error) {
        const { code, message } = toErrorInfo(error, ErrorCode.DECODE_FAILED);
        return { error: { code, message } };
      }
    }),
  );
  return { items, tensor, slots, count };
}

async function* chunks<T>(source: AsyncIterable<T> | Iterable<T>, size: () => number): AsyncGenerator<T[]> {
  let chunk: T[] = [];
  for await (const item of source) {
    chunk.push(item);
    if (chunk.length >= size()) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}

export async function* classifyFiles(
  loading: Classifier | Promise<Classifier>,
  inputs: AsyncIterable<WalkItem> | Iterable<WalkItem>,
  options: ClassifyFilesOptions = {},
): AsyncGenerator<ClassifyResult> {
  const top = options.top ?? 5;
  let loaded = loading instanceof Promise ? undefined : loading;
  const spec = loaded?.preprocessing ?? options.preprocessing;
  if (!spec) throw new TypeError('classifyFiles: a classifier that is still loading needs options.preprocessing');
  // Until the session has chosen its provider, batches take the CPU's size (the first one only,
  // in practice: it is being decoded while the session starts).
  const batchSize = (): number => Math.max(1, options.batchSize ?? loaded?.defaultBatchSize ?? defaultBatchSize('cpu'));
  const source = chunks(inputs, batchSize)[Symbol.asyncIterator]();
  const prepareNext = async (): Promise<Prepared | undefined> => {
    const next = await source.next();
    return next.done ? undefined : prepare(spec, next.value, options.maxPixels);
  };

  let pending = prepareNext();
  // A load that fails ends the run with its error; the decode started meanwhile is dropped.
  if (!loaded) pending.catch(() => undefined);
  const classifier = (loaded ??= await loading);
  for (;;) {
    const prepared = await pending;
    if (!prepared) return;
    if (options.signal?.aborted) return;
    pending = prepareNext(); // decode the next batch while this one runs
    // Holes from failed items are skipped: the tensor holds `count` packed images.
    let run: RunOutcome = { logits: [], inferenceMs: 0 };
    let waitMs = 0;
    if (prepared.count > 0) {
      const batch = prepared.tensor.subarray(0, prepared.count * classifier.imageSize);
      const asked = performance.now();
      run = await runBatch(() => (options.infer ? options.infer(batch, prepared.count) : classifier.run(batch, prepared.count)));
      if (!('error' in run)) waitMs = Math.max(0, performance.now() - asked - run.inferenceMs);
    }
    for (let i = 0; i < prepared.items.length; i++) {
      const slot = prepared.slots[i];
      yield assembleResult(prepared.items[i].path, slot, run, 'slot' in slot ? slot.slot : 0, classifier, { count: prepared.count, top, waitMs });
    }
  }
}
