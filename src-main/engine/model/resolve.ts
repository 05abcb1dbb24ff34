// What the user typed for --model (a catalog name, an imported name, or a path) → a model file with
// its preprocessing and labels. Catalog models are pulled on first use.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import { type CatalogEntry, type Preprocessing, TORCHVISION_PREPROCESSING, preprocessingOf } from './catalog.js';
import type { FetchLike, TransferProgress } from './download.js';
import { loadLabels } from './labels.js';
import type { ModelStore } from './store.js';

export interface ResolvedModel {
  /** Catalog name, imported name, or the file name (without .onnx) for a path. */
  name: string;
  path: string;
  preprocessing: Preprocessing;
  labels: string[];
  catalogEntry?: CatalogEntry;
  /** True for catalog models (ImageNet-trained weights); false where we cannot know. */
  pretrained: boolean;
  source: 'catalog' | 'imported' | 'file';
}

export interface ResolveOptions {
  store: ModelStore;
  /** Download progress when a catalog model is pulled on first use. */
  onProgress?: (progress: TransferProgress) => void;
  signal?: AbortSignal;
  /** Class names to use instead of the model's own (ImageNet-1k by default). */
  labelsFile?: string;
  fetchImpl?: FetchLike;
}

const looksLikePath = (value: string): boolean => /[\\/]/.test(value) || /\.onnx$/i.test(value) || value.startsWith('.') || value.startsWith('~');

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

function torchvisionDefaults(): Preprocessing {
  return { ...TORCHVISION_PREPROCESSING, mean: [...TORCHVISION_PREPROCESSING.mean], std: [...TORCHVISION_PREPROCESSING.std] };
}

/**
 * Resolves a model reference. Throws MODEL_NOT_FOUND (listing the known names) for an unknown name,
 * DOWNLOAD_FAILED / CHECKSUM_MISMATCH (with how to import a file instead) when a pull fails, and
 * LABELS_INVALID for an unusable labels file. Label count versus the model's classes is checked when
 * the model is loaded (the file is not read here).
 */
export async function resolveModel(nameOrPath: string, options: ResolveOptions): Promise<ResolvedModel> {
  const { store } = options;
  const reference = nameOrPath.trim();
  if (reference === '') throw new EngineError(ErrorCode.INVALID_ARGUMENT, 'no model given: name a catalog model (e.g. resnet50) or an .onnx file');

  const fromFile = async (file: string): Promise<ResolvedModel> => ({
    name: path.basename(file).replace(/\.onnx$/i, ''),
    path: path.resolve(file),
    preprocessing: torchvisionDefaults(),
    labels: await loadLabels(options.labelsFile),
    pretrained: false,
    source: 'file',
  });

  if (looksLikePath(reference)) {
    if (await isFile(reference)) return fromFile(reference);
    throw new EngineError(ErrorCode.MODEL_NOT_FOUND, `model file not found: ${reference}`, { item: reference });
  }

  const entry = store.catalogEntry(reference);
  if (entry) {
    const pulled = await store.pull(entry.name, { onProgress: options.onProgress, signal: options.signal, fetchImpl: options.fetchImpl });
    const labelsFile = options.labelsFile ?? pulled.sidecar?.labelsFile ?? undefined;
    return {
      name: entry.name,
      path: pulled.path,
      preprocessing: preprocessingOf(store.catalog, entry),
      labels: await loadLabels(labelsFile),
      catalogEntry: entry,
      pretrained: true,
      source: 'catalog',
    };
  }

  const stored = await store.get(reference);
  if (stored) {
    const labelsFile = options.labelsFile ?? stored.sidecar?.labelsFile ?? undefined;
    return {
      name: stored.name,
      path: stored.path,
      preprocessing: stored.sidecar?.preprocessing ?? torchvisionDefaults(),
      labels: await loadLabels(labelsFile),
      pretrained: false,
      source: 'imported',
    };
  }

  // A bare file name in the working directory ("model" without an extension) still works.
  if (await isFile(reference)) return fromFile(reference);
  throw await store.unknownModel(reference);
}
