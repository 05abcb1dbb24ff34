// What every command needs from its surroundings: the model store, model resolution (pulling a
// catalog model on first use, with progress on stderr), the caches, and a logger on stderr.
import envPaths from 'env-paths';
import { existsSync } from 'node:fs';
import { Classifier } from '../engine/infer/classifier.js';
import { describeBackend } from '../engine/infer/doctor.js';
import type { EpRequest } from '../engine/infer/providers.js';
import { resolveModel } from '../engine/model/resolve.js';
import { ModelStore } from '../engine/model/store.js';
import { createDownloadProgress } from './progress.js';

export interface CliContext {
  store(): ModelStore;
  /** A model name or .onnx path → file path, pulling a catalog model on first use. */
  modelPath(nameOrPath: string): Promise<string>;
  loadClassifier(options: { model: string; ep: EpRequest; labelsFile?: string }): Promise<Classifier>;
  /** Diagnostics and progress: always stderr, so stdout stays machine-readable. */
  log(message: string): void;
}

export interface CliContextOptions {
  modelsDir?: string;
}

export function createCliContext(options: CliContextOptions = {}): CliContext {
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
    async modelPath(nameOrPath) {
      // inspect works on any file, including ones resolve would refuse for their labels.
      if (nameOrPath.endsWith('.onnx') || existsSync(nameOrPath)) return nameOrPath;
      return (await resolve(nameOrPath)).path;
    },
    async loadClassifier({ model, ep, labelsFile }) {
      const resolved = await resolve(model, labelsFile);
      const classifier = await Classifier.load({
        name: resolved.name,
        modelPath: resolved.path,
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
