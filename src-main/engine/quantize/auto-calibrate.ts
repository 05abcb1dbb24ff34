// int8 without a prepared copy: `reslens batch --precision int8` on a model that has no quantised
// copy yet calibrates one on the photos at hand — the first N of the batch — instead of refusing,
// says so, and records where the photos came from. (classify and features still refuse with
// exit 2 naming `reslens quantize`: a handful of photos is too few to calibrate on, and an
// interactive command should not silently spend half a minute quantising.)
import { sha256File } from '../model/download.js';
import type { PreprocessSpec } from '../preprocess/preprocess.js';
import { walkInputs } from '../batch/walk.js';
import { batchCalibrationSource } from './calibration-source.js';
import { findInt8Copy } from './int8-store.js';
import type { CalibrationMethod } from './names.js';
import { type QuantizeResult, quantizeModel } from './quantize-model.js';

/** Photos taken from the start of a batch to calibrate on (every fifth held back for the fidelity figures). */
export const BATCH_CALIBRATION_IMAGES = 50;

export interface BatchCalibrationOptions {
  modelPath: string;
  modelName: string;
  storeDir: string;
  preprocessing: PreprocessSpec;
  /** The batch's inputs (files and folders), walked as the batch walks them. */
  inputs: string[];
  walk?: { includeHidden?: boolean; followSymlinks?: boolean };
  images?: number;
  method?: CalibrationMethod;
  onProgress?: (message: string) => void;
}

/**
 * The int8 copy of the model, made from the first photos of the batch when there is none yet.
 * Returns undefined when a copy already existed; throws (INVALID_ARGUMENT) when the inputs hold no
 * readable photo.
 */
export async function calibrateOnBatchIfMissing(options: BatchCalibrationOptions): Promise<(QuantizeResult & { source: string }) | undefined> {
  const { sha256 } = await sha256File(options.modelPath);
  if (await findInt8Copy(options.storeDir, sha256)) return undefined;
  const limit = options.images ?? BATCH_CALIBRATION_IMAGES;
  const images: string[] = [];
  for await (const item of walkInputs(options.inputs, options.walk ?? {})) {
    if ('error' in item) continue;
    images.push(item.path);
    if (images.length >= limit) break;
  }
  const source = batchCalibrationSource(options.inputs, images.length);
  options.onProgress?.(
    `no int8 copy of ${options.modelName} yet: calibrating one on ${source} (${options.method ?? 'percentile'}); \`reslens quantize --calibrate DIR\` makes one from photos you choose`,
  );
  const result = await quantizeModel({
    modelPath: options.modelPath,
    modelName: options.modelName,
    storeDir: options.storeDir,
    preprocessing: options.preprocessing,
    images,
    method: options.method,
    calibrationSource: source,
    onProgress: options.onProgress,
  });
  return { ...result, source };
}
