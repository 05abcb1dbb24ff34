// What every command needs from its surroundings: the model store, model resolution (pulling a
// catalog model on first use, with progress on stderr), the caches, and a logger on stderr.
import envPaths from 'env-paths';
import { existsSync } from 'node:fs';
import {
  type Classifier,
  EngineError,
  type EpRequest,
  load,
  type ModelStore,
  type OpenedModel,
  type ResolvedModel,
  resolveModel,
  describeCalibration,
} from '../engine/index.js';
import { withHint } from './hints.js';
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
      // The engine's one way to open a model (the app's is the same call, through the service).
      const { openModel } = await load.openModel();
      const progress = createDownloadProgress(`downloading ${model}`);
      let opened: OpenedModel;
      try {
        opened = await openModel(model, {
          store: getStore(),
          ep,
          ...(precision ? { precision } : {}),
          ...(labelsFile ? { labelsFile } : {}),
          cacheDir: envPaths('reslens', { suffix: '' }).cache,
          onDownload: progress.update,
          onLoading: () => progress.stop(),
          onFallback: (event) => log(`warning: ${event.message}`),
        });
      } catch (error) {
        // A missing int8 copy is a usage error (exit 2), as before the engine learned to say so.
        if (error instanceof EngineError && error.hint?.actions.includes('quantize')) throw new UsageError(withHint(error.message, error.hint));
        throw error;
      } finally {
        progress.stop();
      }
      const { classifier } = opened;
      if (precision === 'int8' && opened.int8) {
        const r = opened.int8.record;
        const f = r.fidelity;
        log(
          `precision: int8 (calibrated on ${describeCalibration(r)}, ${r.method}; on ${f.images} held-back photos: top-1 agreement ${(f.top1Agreement * 100).toFixed(0)}%, top-5 overlap ${(f.top5Overlap * 100).toFixed(0)}%, mean KL ${f.meanKl.toFixed(3)})`,
        );
      }
      for (const note of opened.notes) log(`note: ${note}`);
      // Which backend runs, and why not a GPU when one was half set up or failed its probe.
      log(`backend: ${opened.backend}`);
      const passedOver = classifier.epAttempts.filter((a) => a.status === 'unavailable').map((a) => `${a.ep} unavailable: ${a.reason}`);
      if (passedOver.length > 0 && process.env.RESLENS_VERBOSE) log(`note: ${passedOver.join('; ')}`);
      return classifier;
    },
  };
}
