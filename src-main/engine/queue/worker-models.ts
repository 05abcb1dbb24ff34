// A worker's models, found by SHA-256: a chunk names the model by catalog name and SHA-256, and the
// worker classifies only with a file whose bytes hash to exactly that. Where it looks, in order:
// models already loaded, the files or names offered with `reslens worker --model`, its model store
// (catalog and imported models, by their recorded SHA-256), and finally the catalog (pulled on first
// use, verified by the catalog's SHA-256). Anything else is refused with MODEL_MISMATCH: a worker
// never substitutes another model, and never loads a model file a job points at.
import { Classifier } from '../infer/classifier.js';
import type { EpRequest } from '../core/vocabulary.js';
import type { FallbackEvent } from '../infer/session-runner.js';
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import type { Preprocessing } from '../model/catalog.js';
import { sha256File } from '../model/download.js';
import { type ResolvedModel, resolveModel } from '../model/resolve.js';
import type { ModelStore } from '../model/store.js';

export interface WorkerModelsOptions {
  store: ModelStore;
  /** --model values: .onnx files or store names this worker offers, hashed at start. */
  offered?: readonly string[];
  ep: EpRequest;
  cacheDir?: string;
  log: (message: string) => void;
}

interface Loaded {
  sha256: string;
  preprocessingKey: string;
  classifier: Promise<Classifier>;
}

const short = (sha: string): string => `${sha.slice(0, 12)}…`;

export class WorkerModels {
  private readonly offered = new Map<string, ResolvedModel>();
  private readonly loaded: Loaded[] = [];

  private constructor(private readonly options: WorkerModelsOptions) {}

  static async create(options: WorkerModelsOptions): Promise<WorkerModels> {
    const models = new WorkerModels(options);
    for (const reference of options.offered ?? []) {
      const resolved = await resolveModel(reference, { store: options.store });
      const { sha256 } = await sha256File(resolved.path);
      models.offered.set(sha256, resolved);
      options.log(`offering model ${resolved.name} (sha256 ${short(sha256)})`);
    }
    return models;
  }

  /** The classifier for a chunk's model, loaded once per SHA-256 and preprocessing. Throws MODEL_MISMATCH. */
  classifierFor(model: { name: string; sha256: string }, preprocessing: Preprocessing): Promise<Classifier> {
    const preprocessingKey = JSON.stringify(preprocessing);
    const existing = this.loaded.find((l) => l.sha256 === model.sha256 && l.preprocessingKey === preprocessingKey);
    if (existing) return existing.classifier;
    const classifier = this.load(model, preprocessing);
    const entry: Loaded = { sha256: model.sha256, preprocessingKey, classifier };
    this.loaded.push(entry);
    // A failed load is not cached: the next chunk tries again (a pull may succeed later).
    classifier.catch(() => this.loaded.splice(this.loaded.indexOf(entry), 1));
    return classifier;
  }

  private async find(model: { name: string; sha256: string }): Promise<ResolvedModel> {
    const offered = this.offered.get(model.sha256);
    if (offered) return offered;
    const { store } = this.options;
    const listings = await store.list();
    const stored = listings.find((l) => l.installed && l.sha256 === model.sha256);
    if (stored) return resolveModel(stored.name, { store });
    const entry = store.catalogEntry(model.name);
    if (entry && entry.sha256 === model.sha256) {
      try {
        return await resolveModel(entry.name, { store });
      } catch (error) {
        throw new EngineError(ErrorCode.MODEL_MISMATCH, `worker cannot get model ${model.name} (sha256 ${short(model.sha256)}): ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
    throw new EngineError(
      ErrorCode.MODEL_MISMATCH,
      `worker has no model with sha256 ${short(model.sha256)} (the run's ${model.name}); offer the same file with reslens worker --model FILE, or import it into the worker's model store`,
    );
  }

  private async load(model: { name: string; sha256: string }, preprocessing: Preprocessing): Promise<Classifier> {
    const resolved = await this.find(model);
    const classifier = await Classifier.load({
      name: model.name,
      modelPath: resolved.path,
      preprocessing,
      labels: resolved.labels,
      ep: this.options.ep,
      cacheDir: this.options.cacheDir,
      // Loaded exactly as a local batch loads it (same graph, same session options): same answers.
      onFallback: (event: FallbackEvent) => this.options.log(`warning: ${event.message}`),
    });
    // The file may have changed since it was hashed or recorded: the loaded bytes are what count.
    if (classifier.info.sha256 !== model.sha256) {
      await classifier.dispose();
      throw new EngineError(
        ErrorCode.MODEL_MISMATCH,
        `worker's ${resolved.path} has sha256 ${short(classifier.info.sha256)}, not the run's ${short(model.sha256)} (${model.name})`,
      );
    }
    this.options.log(`loaded ${model.name} (sha256 ${short(model.sha256)}) on ${classifier.ep}`);
    return classifier;
  }

  async dispose(): Promise<void> {
    const all = this.loaded.splice(0);
    await Promise.allSettled(all.map(async (l) => (await l.classifier).dispose()));
  }
}
