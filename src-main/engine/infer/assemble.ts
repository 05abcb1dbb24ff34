// One inference run's outputs → one result per item, the same way for `classifyFiles` (classify,
// the app's drops) and the batch pipeline (batch, queue workers): a decode failure or a failed run
// becomes that item's error, the rest get their top classes, provider and time.
import { type ErrorInfo, toErrorInfo } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import type { ClassifyResult, ClassifyTimings } from './classify-files.js';
import type { ClassScore } from './topk.js';

/** What a run gives back per batch: logits per packed image, and optionally per-image provider and details. */
export interface RunOutput {
  logits: Float32Array[];
  inferenceMs: number;
  epByImage?: readonly string[];
  /** What a specialised run adds per image (a lesion study's per-block outcomes). */
  details?: readonly unknown[];
}
export type RunOutcome = RunOutput | { error: Omit<ErrorInfo, 'item'> };

/** The classifier's part in a result. */
export interface ResultHead {
  readonly name: string;
  readonly ep: string;
  readonly precision?: 'fp32' | 'int8';
  top(logits: Float32Array, k: number): ClassScore[];
}

/** An item as it came out of preprocessing: decoded (its ms) or failed (its error). */
export type PreparedItem = { ms: number } | { error: Omit<ErrorInfo, 'item'> };

const tenth = (ms: number): number => Math.round(ms * 10) / 10;

/** `{ precision: 'int8' }` for a quantised model's results; fp32 results stay as they always were. */
export const precisionField = (classifier: { readonly precision?: 'fp32' | 'int8' }): { precision?: 'int8' } =>
  classifier.precision === 'int8' ? { precision: 'int8' } : {};

/** Runs one batch; a throw becomes the batch's error (every image in it gets it), not the run's end. */
export async function runBatch<T extends RunOutput>(run: () => Promise<T>): Promise<T | { error: Omit<ErrorInfo, 'item'> }> {
  try {
    return await run();
  } catch (error) {
    const { code, message } = toErrorInfo(error, ErrorCode.INFERENCE_FAILED);
    return { error: { code, message } };
  }
}

export interface AssembleOptions {
  /** Images in the run (its inference time is shared among them). */
  count: number;
  top: number;
  /** When given, the result carries `timings` (with this wait for the model): what a card shows. */
  waitMs?: number;
}

/** The result for the item at `slot` of the run (slot ignored for an item that failed before it). */
export function assembleResult(path: string, item: PreparedItem, run: RunOutcome, slot: number, head: ResultHead, options: AssembleOptions): ClassifyResult {
  if ('error' in item) return { path, error: item.error };
  if ('error' in run) return { path, error: run.error };
  const share = run.inferenceMs / options.count;
  const timings: ClassifyTimings | undefined =
    options.waitMs === undefined ? undefined : { waitMs: tenth(options.waitMs), decodeMs: tenth(item.ms), inferenceMs: tenth(share) };
  const details = run.details?.[slot];
  return {
    path,
    top: head.top(run.logits[slot], options.top),
    model: head.name,
    ep: run.epByImage?.[slot] ?? head.ep,
    ms: tenth(item.ms + share),
    ...(timings ? { timings } : {}),
    ...precisionField(head),
    ...(details === undefined ? {} : { details }),
  };
}
