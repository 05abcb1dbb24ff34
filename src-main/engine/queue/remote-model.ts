// The run's model as the coordinator knows it: never loaded into a session (the workers classify),
// but read and checked here so the journal's identity (name, SHA-256, labels) and the chunks'
// preprocessing are the same as a local batch of the same model would have.
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import type { BatchClassifier } from '../batch/pipeline.js';
import type { ClassScore } from '../infer/topk.js';
import { loadAndInspect } from '../model/inspect.js';
import { type Preprocessing, preprocessingOf } from '../model/catalog.js';
import { loadLabels } from '../model/labels.js';
import { type ResolveOptions, resolveModel } from '../model/resolve.js';

export interface RemoteModel extends BatchClassifier {
  readonly labels: readonly string[];
  readonly info: { sha256: string };
  readonly preprocessing: Preprocessing;
  /** Catalog (ImageNet-trained) model; unknown for one taken from a loaded classifier. */
  readonly pretrained?: boolean;
}

/** The identity of a classifier already loaded here (the app's current model). */
export function remoteModelOf(classifier: {
  name: string;
  labels: readonly string[];
  info: { sha256: string };
  preprocessing: BatchClassifier['preprocessing'];
  maxRunBatch: number;
  imageSize: number;
}): RemoteModel {
  const p = classifier.preprocessing;
  return {
    name: classifier.name,
    ep: 'workers',
    labels: classifier.labels,
    info: { sha256: classifier.info.sha256 },
    preprocessing: {
      resizeShorter: p.resizeShorter,
      crop: p.crop,
      mean: [p.mean[0], p.mean[1], p.mean[2]],
      std: [p.std[0], p.std[1], p.std[2]],
      layout: p.layout,
    },
    maxRunBatch: classifier.maxRunBatch,
    imageSize: classifier.imageSize,
    run: () => Promise.reject(new EngineError(ErrorCode.INVALID_ARGUMENT, 'this model runs on the queue workers, not here')),
    top: () => [],
  };
}

/**
 * Resolves `reference` (catalog name, imported name or .onnx path) and reads the file once for its
 * SHA-256 and shape checks (the same refusals as loading it locally: label count, input size).
 */
export async function describeRemoteModel(reference: string, options: ResolveOptions): Promise<RemoteModel> {
  // A catalog model not installed here needs no download: the catalog names its SHA-256 and shape.
  const entry = options.store.catalogEntry(reference);
  if (entry && !(await options.store.get(entry.name))) {
    const labels = await loadLabels(options.labelsFile);
    if (labels.length !== entry.classes)
      throw new EngineError(ErrorCode.LABELS_INVALID, `the label set has ${labels.length} names but ${entry.name} outputs ${entry.classes} classes`);
    const preprocessing = preprocessingOf(options.store.catalog, entry);
    return remote({
      name: entry.name,
      labels,
      sha256: entry.sha256,
      preprocessing,
      pretrained: true,
      dynamicBatch: typeof entry.input.shape?.[0] !== 'number',
    });
  }
  const resolved = await resolveModel(reference, options);
  const { info } = await loadAndInspect(resolved.path);
  const { crop } = resolved.preprocessing;
  if ((info.input.height !== null && info.input.height !== crop) || (info.input.width !== null && info.input.width !== crop)) {
    throw new EngineError(
      ErrorCode.UNSUPPORTED_MODEL,
      `model expects ${info.input.width}×${info.input.height} input but its preprocessing crops ${crop}×${crop}`,
      { item: resolved.path },
    );
  }
  if (resolved.labels.length !== info.classes) {
    throw new EngineError(
      ErrorCode.LABELS_INVALID,
      `the label set has ${resolved.labels.length} names but the model outputs ${info.classes} classes; pass a labels file with one name per class`,
      { item: resolved.path },
    );
  }
  return remote({
    name: resolved.name,
    labels: resolved.labels,
    sha256: info.sha256,
    preprocessing: resolved.preprocessing,
    pretrained: resolved.pretrained,
    dynamicBatch: info.input.dynamicBatch,
  });
}

function remote(model: {
  name: string;
  labels: readonly string[];
  sha256: string;
  preprocessing: Preprocessing;
  pretrained: boolean;
  dynamicBatch: boolean;
}): RemoteModel {
  const runsElsewhere = (): never => {
    throw new EngineError(ErrorCode.INVALID_ARGUMENT, 'this model runs on the queue workers, not here');
  };
  return {
    name: model.name,
    ep: 'workers',
    labels: model.labels,
    info: { sha256: model.sha256 },
    preprocessing: model.preprocessing,
    pretrained: model.pretrained,
    maxRunBatch: model.dynamicBatch ? Number.POSITIVE_INFINITY : 1,
    imageSize: 3 * model.preprocessing.crop * model.preprocessing.crop,
    run: runsElsewhere,
    top: (): ClassScore[] => runsElsewhere(),
  };
}
