// Compare (issue 15): a second model beside the loaded one, for the feature view's side-by-side.
// Bounded: the engine holds at most two models — the loaded one and this one. Asking for another
// second model replaces it (the old one is disposed once the requests running on it are done), and
// the loaded model is never dropped for it.
import { EngineError } from '../engine/core/errors.js';
import { ErrorCode } from '../engine/core/vocabulary.js';
import { Classifier } from '../engine/infer/classifier.js';
import type { EpRequest } from '../engine/core/vocabulary.js';
import { resolveModel } from '../engine/model/resolve.js';
import type { ModelStore } from '../engine/model/store.js';

interface Held {
  name: string;
  ready: Promise<{ classifier: Classifier; title: string; pretrained: boolean }>;
  /** Requests running on it: it is disposed when replaced only after they finish. */
  users: number;
  replaced: boolean;
}

export class CompareModel {
  private held?: Held;

  constructor(
    private readonly store: ModelStore,
    private readonly options: { ep: EpRequest; cacheDir?: string },
  ) {}

  /** Runs `work` on the named second model, loading it first (and replacing any other second model). */
  async use<T>(name: string, work: (classifier: Classifier, meta: { title: string; pretrained: boolean }) => Promise<T>): Promise<T> {
    if (!this.held || this.held.name !== name) {
      const previous = this.held;
      this.held = { name, ready: this.load(name), users: 0, replaced: false };
      if (previous) this.release(previous, true);
    }
    const held = this.held;
    held.users++;
    try {
      const loaded = await held.ready;
      return await work(loaded.classifier, loaded);
    } catch (error) {
      // A model that failed to load is not kept: the next request tries again.
      if (
        this.held === held &&
        (await held.ready.then(
          () => false,
          () => true,
        ))
      )
        this.held = undefined;
      throw error;
    } finally {
      held.users--;
      if (held.replaced) this.release(held, false);
    }
  }

  /** The second model's name, if one is held. */
  get name(): string | undefined {
    return this.held?.name;
  }

  private async load(name: string) {
    const resolved = await resolveModel(name, { store: this.store });
    const classifier = await Classifier.load({
      name: resolved.name,
      modelPath: resolved.path,
      preprocessing: resolved.preprocessing,
      labels: resolved.labels,
      ep: this.options.ep,
      cacheDir: this.options.cacheDir,
    });
    if (!classifier.stageMap) {
      const reason = classifier.stagesError ?? 'feature maps unavailable for this model';
      await classifier.dispose();
      throw new EngineError(ErrorCode.UNSUPPORTED_MODEL, `${resolved.name} cannot be compared: ${reason}`, { item: name });
    }
    return { classifier, title: resolved.catalogEntry?.title ?? resolved.name, pretrained: resolved.pretrained };
  }

  private release(held: Held, replacing: boolean): void {
    if (replacing) held.replaced = true;
    if (held.users > 0) return;
    void held.ready.then(
      (m) => m.classifier.dispose(),
      () => undefined,
    );
  }

  async dispose(): Promise<void> {
    const held = this.held;
    this.held = undefined;
    if (held)
      await held.ready.then(
        (m) => m.classifier.dispose(),
        () => undefined,
      );
  }
}
