// Opening a model, once for every host: resolve (a name or a file; a catalog model is pulled on first
// use) → the int8 copy when asked for (found by the fp32 file's SHA-256, never chosen silently) →
// load the session → architecture → the backend in words → the notes a person must see (a model
// that is not from the catalog has its outputs shown with ImageNet class names). The CLI prints the
// notes on stderr; the app shows them beside the model.
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import { Classifier, type Precision } from '../infer/classifier.js';
import type { FallbackEvent } from '../infer/session-runner.js';
import { describeBackend } from '../infer/doctor.js';
import type { EpRequest } from '../core/vocabulary.js';
import { type ArchitectureSummary, architectureSummary } from '../model/architecture.js';
import type { TransferProgress } from '../model/download.js';
import { cachedSha256File } from '../model/hash-cache.js';
import { type ResolvedModel, resolveModel } from '../model/resolve.js';
import type { ModelStore } from '../model/store.js';
import { type Int8Record, findInt8Copy } from '../quantize/int8-store.js';

export interface OpenModelOptions {
  store: ModelStore;
  ep: EpRequest;
  precision?: Precision;
  /** Class names for a model given as a file (else ImageNet's). */
  labelsFile?: string;
  cacheDir?: string;
  onDownload?: (progress: TransferProgress) => void;
  /** Told once the file is in hand and the session starts loading. */
  onLoading?: () => void;
  onFallback?: (event: FallbackEvent) => void;
}

export interface OpenedModel {
  classifier: Classifier;
  resolved: ResolvedModel;
  title: string;
  /** The fp32 model's int8 copy, when the store has one (what a precision picker offers). */
  int8?: { model: string; record: Int8Record };
  architecture?: ArchitectureSummary;
  /** "CPU · 2 threads" / "GPU · CUDA · …", with why auto passed over other providers. */
  backend: string;
  /** Facts a person must see before trusting the results (each host shows them its own way). */
  notes: string[];
}

/** The note for a model whose outputs are shown with ImageNet's names without being from the catalog. */
export function imagenetLabelsNote(name: string): string {
  return `${name} is not a catalog model: its outputs are shown with ImageNet class names, which is only meaningful if it was trained on ImageNet-1k`;
}

export async function openModel(reference: string, options: OpenModelOptions): Promise<OpenedModel> {
  const resolved = await resolveModel(reference, {
    store: options.store,
    ...(options.onDownload ? { onProgress: options.onDownload } : {}),
    ...(options.labelsFile ? { labelsFile: options.labelsFile } : {}),
  });
  options.onLoading?.();
  const int8 = await findInt8Copy(options.store.dir, await cachedSha256File(resolved.path, options.cacheDir));
  if (options.precision === 'int8' && !int8) {
    throw new EngineError(ErrorCode.MODEL_NOT_FOUND, `no int8 copy of ${resolved.name} in ${options.store.dir}`, {
      item: resolved.name,
      hint: { actions: ['quantize'], model: resolved.source === 'file' ? resolved.path : resolved.name },
    });
  }
  const useInt8 = options.precision === 'int8' && int8 !== undefined;
  const classifier = await Classifier.load({
    name: resolved.name,
    modelPath: useInt8 ? int8.model : resolved.path,
    // The quantised graph has no Relu after its Convs and Adds (the Q clamps), so no stage taps.
    ...(useInt8 ? { precision: 'int8' as const, stages: false } : {}),
    preprocessing: resolved.preprocessing,
    labels: resolved.labels,
    ep: options.ep,
    ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}),
    ...(options.onFallback ? { onFallback: options.onFallback } : {}),
  });
  const architecture = classifier.stageMap ? architectureSummary(classifier.stageMap, classifier.info) : undefined;
  const backend = await describeBackend({ ep: classifier.ep, attempts: classifier.epAttempts, threads: classifier.threads });
  // Never let an unknown (possibly random-weight) model pass for an ImageNet-trained one.
  const notes = !resolved.pretrained && !options.labelsFile ? [imagenetLabelsNote(resolved.name)] : [];
  return {
    classifier,
    resolved,
    title: resolved.catalogEntry?.title ?? resolved.name,
    ...(int8 ? { int8 } : {}),
    ...(architecture ? { architecture } : {}),
    backend,
    notes,
  };
}
