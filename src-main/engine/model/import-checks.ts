// What `ModelStore.import` decides about a local .onnx file before copying it: whether the store
// can hold it, its class names, and its preprocessing.
import path from 'node:path';
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import { type Catalog, type CatalogEntry, type Preprocessing, PreprocessingSchema, TORCHVISION_PREPROCESSING, preprocessingOf } from './catalog.js';
import type { ModelInfo } from './inspect.js';
import { checkLabelCount, loadLabels } from './labels.js';

/**
 * The store holds one .onnx per model: a model that reads external data files would be copied
 * without them and fail at load, so it is refused here (run it in place with --model PATH).
 */
export function refuseExternalData(info: ModelInfo, source: string): void {
  if (!info.externalFiles?.length) return;
  throw new EngineError(
    ErrorCode.UNSUPPORTED_MODEL,
    `${path.basename(source)} keeps its weights in ${info.externalFiles.length} external data file(s) (${info.externalFiles.slice(0, 3).join(', ')}); the model store cannot hold those yet: run it in place with --model ${source}`,
    { item: source },
  );
}

/** The class names to store with the model: from `labelsFile`, or none (ImageNet's) for a 1000-class model. */
export async function importLabels(info: ModelInfo, source: string, labelsFile: string | undefined): Promise<string[] | undefined> {
  if (labelsFile !== undefined) {
    const labels = await loadLabels(labelsFile);
    checkLabelCount(labels, info.classes, labelsFile);
    const multiline = labels.findIndex((label) => /[\r\n]/.test(label));
    if (multiline >= 0) throw new EngineError(ErrorCode.LABELS_INVALID, `label ${multiline} contains a line break`, { item: labelsFile });
    return labels;
  }
  if (info.classes !== 1000) {
    throw new EngineError(
      ErrorCode.LABELS_INVALID,
      `${path.basename(source)} has ${info.classes} output classes, not ImageNet's 1000: pass its class names with --labels FILE (one per line)`,
      { item: source },
    );
  }
  return undefined;
}

/** The catalog's preprocessing for a catalog model, torchvision's (fitted to a fixed input size) otherwise; then the caller's overrides. */
export function importPreprocessing(
  catalog: Catalog,
  entry: CatalogEntry | undefined,
  info: ModelInfo,
  overrides: Partial<Preprocessing> | undefined,
): Preprocessing {
  let preprocessing: Preprocessing;
  if (entry) {
    preprocessing = preprocessingOf(catalog, entry);
  } else {
    preprocessing = {
      ...TORCHVISION_PREPROCESSING,
      mean: [...TORCHVISION_PREPROCESSING.mean],
      std: [...TORCHVISION_PREPROCESSING.std],
      layout: info.input.layout,
    };
    const side = info.input.height;
    if (side !== null && side === info.input.width && side !== preprocessing.crop) {
      // A fixed input of another size: keep torchvision's 256/224 ratio between resize and crop.
      preprocessing.crop = side;
      preprocessing.resizeShorter = Math.round((side * 256) / 224);
    }
  }
  if (overrides) {
    const merged = PreprocessingSchema.safeParse({ ...preprocessing, ...overrides });
    if (!merged.success) throw new EngineError(ErrorCode.INVALID_ARGUMENT, `invalid preprocessing: ${merged.error.issues.map((i) => i.message).join('; ')}`);
    preprocessing = merged.data;
  }
  return preprocessing;
}
