// What every command needs from its surroundings: the model store, model resolution (pulling a
// catalog model on first use, with progress on stderr), the caches, and a logger on stderr.
import envPaths from 'env-paths';
import { existsSync } from 'node:fs';
import { type Classifier, type EpRequest, findInt8Copy, load, type ModelStore, type ResolvedModel, resolveModel, sha256File } from '../engine/index.js';
import { type PrecisionFlag, UsageError } from './options.js';
import { createDownloadProgress } from './progress.js';

export interface CliContext {
  store(): ModelStore;
  /** A model name or .onnx path → file path, pulling a catalog model on first use. */
  modelPath(nameOrPath: string): Promise<string>;
  loadClassifier(options: { model: string; ep: EpRequest; labelsFile?: string; precision?: PrecisionFlag }): Promise<Classifier>;
  /** A model name or path → its file, preprocessing and labels (pulling a catalog model on first use). */
  resolve(nameOrPath: string): Promise<ResolvedModel>;
  /** Diagnostics and progress: always stderr, so stdout stays machine-readable. */
  log(message: string): void;
}

export interface CliContextOptions {
  modelsDir?: string;
}

export async function createCliContext(options: CliContextOptions = {}): Promise<CliContext> {
  const { ModelStore } = await load.modelStore();
  let store: ModelStore | undefined;
  const getStore = (): ModelStore => (store ??= new ModelStore(ModelStore.defaultDir({ dir: options.modelsDir })));
  const log = (message: string): void => {
    process.stderr.write(`${message}\n`);
  };
  const resolve = async (model: string, labelsFile?: string) => {
    const progress = createDownloadProgress(`downloading ${model}`);
    try {
      return await resolveModel(model, { store: getStore(), onProgress: progress.update, labelsFile });
    } finally {
      progress.stop();
    }
  };
  /** --precision int8: the quantised copy of the resolved model, found by its SHA-256 in the store. */
  const int8CopyOf = async (resolved: ResolvedModel) => {
    const { sha256 } = await sha256File(resolved.path);
    const copy = await findInt8Copy(getStore().dir, sha256);
    if (!copy) throw new UsageError(`no int8 copy of ${resolved.name} in ${getStore().dir}: make one with \`reslens quantize ${resolved.source === 'file' ? resolved.path : resolved.name} --calibrate <folder of photos>\``);
    const f = copy.record.fidelity;
    log(`precision: int8 (calibrated on ${copy.record.calibrationImages} photos, ${copy.record.method}; on ${f.images} held-back photos: top-1 agreement ${(f.top1Agreement * 100).toFixed(0)}%, top-5 overlap ${(f.top5Overlap * 100).toFixed(0)}%, mean KL ${f.meanKl.toFixed(3)})`);
    return copy;
  };
  return {
    store: getStore,
    log,
    resolve: (model) => resolve(model),
    async modelPath(nameOrPath) {
      // inspect works on any file, including ones resolve would refuse for their labels.
      if (nameOrPath.endsWith('.onnx') || existsSync(nameOrPath)) return nameOrPath;
      return (await resolve(nameOrPath)).path;
    },
    async loadClassifier({ model, ep, labelsFile, precision }) {
      const resolved = await resolve(model, labelsFile);
      const int8 = precision === 'int8' ? await int8CopyOf(resolved) : undefined;
      const [{ Classifier }, { describeBackend }] = await Promise.all([load.classifier(), load.doctor()]);
      const classifier = await Classifier.load({
        name: resolved.name,
        modelPath: int8?.model ?? resolved.path,
        // The quantised graph has no Relu after its Convs and Adds (the Q clamps), so no stage taps.
        ...(int8 ? { precision: 'int8' as const, stages: false } : {}),
        preprocessing: resolved.preprocessing,
        labels: resolved.labels,
        ep,
        cacheDir: envPaths('reslens', { suffix: '' }).cache,
        onFallback: (event) => log(`warning: ${event.message}`),
      });
      if (!resolved.pretrained && !labelsFile) {
        // Never let an unknown (possibly random-weight) model pass for an ImageNet-trained one.
        log(`note: ${resolved.name} is not a catalog model: its outputs are shown with ImageNet class names, which is only meaningful if it was trained on ImageNet-1k`);
      }
      // Which backend runs, and why not a GPU when one was half set up or failed its probe.
      log(`backend: ${await describeBackend({ ep: classifier.ep, attempts: classifier.epAttempts, threads: classifier.threads })}`);
      const passedOver = classifier.epAttempts.filter((a) => a.status === 'unavailable').map((a) => `${a.ep} unavailable: ${a.reason}`);
      if (passedOver.length > 0 && process.env.RESLENS_VERBOSE) log(`note: ${passedOver.join('; ')}`);
      return classifier;
    },
  };
}
