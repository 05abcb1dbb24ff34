// The engine behind the contract: every host (Electron's utility process, the browser-mode server,
// tests) forwards validated requests here. Hosts own only file ids (what the user granted) and
// the transport; all behaviour is here and in the engine below.
import sharp from 'sharp';
import type {
  ArchitectureValue,
  EngineEvents,
  EngineStatus,
  EventName,
  FeaturesValue,
  HeatmapValue,
  ImageId,
  ImageResult,
  Int8CopyValue,
  ModelEntry,
  PrecisionValue,
  RequestName,
  RequestParams,
  RequestResults,
} from '../api/contract.js';
import type { ContractHandler, RequestContext, RequestHandler, RequestHandlers } from '../api/handler.js';
import { EngineError, toErrorInfo } from '../engine/core/errors.js';
import { ErrorCode } from '../engine/core/vocabulary.js';
import { extractFeatures, photoCrop } from '../engine/features/extract.js';
import { type Heatmap, channelMap } from '../engine/features/reduce.js';
import type { Classifier } from '../engine/infer/classifier.js';
import { classifyFiles } from '../engine/infer/classify-files.js';
import { runDoctor } from '../engine/infer/doctor.js';
import { openModel } from '../engine/opening/open-model.js';
import { ModelStore } from '../engine/model/store.js';
import type { StageName } from '../engine/core/vocabulary.js';
import { thumbnailFile } from '../engine/preprocess/thumbnail.js';
import * as ort from 'onnxruntime-node';
import { BatchJobs } from './batch-jobs.js';
import type { Int8Record } from '../engine/quantize/int8-store.js';
import { describeCalibration } from '../engine/quantize/calibration-source.js';

/** What the app shows of an int8 copy: how it was calibrated and how closely it follows fp32. */
function int8Value(record: Int8Record): Int8CopyValue {
  const f = record.fidelity;
  return {
    calibrationImages: record.calibrationImages,
    calibrationSource: record.calibrationSource ?? null,
    calibrationSha256: record.calibrationSha256,
    calibration: describeCalibration(record),
    method: record.method,
    heldBack: f.images,
    top1Agreement: f.top1Agreement,
    top5Overlap: f.top5Overlap,
    meanKl: f.meanKl,
  };
}
import { redactUrl } from '../engine/queue/connection.js';
import { ExplainRequests } from './explain-requests.js';
import { BlockRequests } from './block-requests.js';
import { createRunDir } from '../engine/core/temp-dirs.js';
import { releaseBlockLens } from '../engine/blocks/lens.js';
import { SessionIndex } from '../engine/sessions/session-index.js';
import { ThumbnailCache } from '../engine/sessions/result-thumbnails.js';
import { ResultImages } from './result-images.js';
import { ImagesSession, IMAGES_SESSION_FILE } from '../engine/sessions/images-session.js';
import path from 'node:path';
import { CompareModel } from './compare-model.js';
import { makeReport } from '../engine/report/make-report.js';
import { camValue, heatmapValue, stageValue } from './feature-values.js';

/** What the host knows that the engine must not: which files the user granted, and how to push events. */
export interface ServiceHost {
  resolveImage(id: string): { path: string; name: string } | undefined;
  resolveFolder(id: string): string | undefined;
  /** Where batch walks must stay (browser mode's --root): every walked path must resolve under it. */
  readonly batchRoot?: string;
  emit<E extends EventName>(event: E, payload: EngineEvents[E]): void;
}

export interface EngineServiceOptions {
  host: ServiceHost;
  modelsDir?: string;
  cacheDir?: string;
  /** Model loaded at start (name or path), if any. */
  initialModel?: string;
  ep?: 'auto' | 'cpu' | 'cuda' | 'webgpu' | 'dml' | 'coreml';
  /**
   * How long batches keep running once no page is connected (a reload reconnects within seconds and
   * finds its runs with batch.list); after that they are cancelled, so no core stays busy for nobody.
   */
  orphanBatchGraceMs?: number;
  /** Redis URL of a batch queue: enables "Run on workers" (docs/queue.md). */
  queueUrl?: string;
  /**
   * The user's data folder: batch runs are kept there (sessions/: the index and each run's journal)
   * with a thumbnail cache, so a reload or restart lists them. Without it runs live in a temp folder.
   */
  dataDir?: string;
}

export type { RequestContext } from '../api/handler.js';

export const DEFAULT_ORPHAN_BATCH_GRACE_MS = 60_000;
/** How long an upload holds batch runs back for the classify request that follows it (a page round trip, with room for a loaded machine). */
export const EXPECT_INTERACTIVE_MS = 1500;

interface FeatureCacheEntry {
  /** The model the maps came from (a model switch clears the cache, but a run may be in flight). */
  classifier: Classifier;
  ranked: Record<StageName, Map<number, Heatmap>>;
  full?: Record<StageName, Float32Array>;
}

interface LoadedModel {
  classifier: Classifier;
  /** "CPU · 2 threads" / "GPU · CUDA · NVIDIA H100", with why auto passed over other providers. */
  backend: string;
  title: string;
  pretrained: boolean;
  /** Facts to show beside the model (engine/opening/open-model.ts), e.g. ImageNet names on a non-catalog model. */
  notes: string[];
  architecture?: ArchitectureValue;
  /** The fp32 model's int8 copy, if any (what the picker offers). */
  int8?: Int8CopyValue | null;
  /** What it was loaded from (a name, or a path for a model given as a file): a precision switch reloads it. */
  reference: string;
}

const versions = (): Record<string, string> => ({
  node: process.versions.node,
  onnxruntime: ort.env.versions.common,
  sharp: sharp.versions.sharp ?? 'unknown',
  libvips: sharp.versions.vips,
  ...(process.versions.electron ? { electron: process.versions.electron } : {}),
});

export class EngineService implements ContractHandler {
  private readonly store: ModelStore;
  private loaded?: LoadedModel;
  private loading?: Promise<LoadedModel>;
  /**
   * The feature view's image: its ranked channel maps (from the in-graph reductions), and its full
   * stage tensors once a channel outside those was asked for (one extra run, then kept).
   */
  private readonly featureCache = new Map<ImageId, FeatureCacheEntry>();

  private readonly batches: BatchJobs;
  /** Explanations: the gradient session of the loaded model, opened on the first request. */
  private readonly explanations: ExplainRequests;

  private readonly blocks: BlockRequests;
  /** Kept runs (issue 15), when the host gave a data folder. */
  private readonly sessions?: SessionIndex;
  private readonly thumbnails?: ThumbnailCache;
  private readonly imagesSession?: ImagesSession;
  /** Image ids the engine issued for results' photos (results.open). */
  private readonly resultImages = new ResultImages();
  /** Compare (issue 15): the second model, beside the loaded one (at most two held). */
  private readonly compare: CompareModel;

  constructor(private readonly options: EngineServiceOptions) {
    this.store = new ModelStore(ModelStore.defaultDir({ dir: options.modelsDir }));
    if (options.dataDir) {
      this.sessions = new SessionIndex({ dir: path.join(options.dataDir, 'sessions') });
      this.thumbnails = new ThumbnailCache({ dir: path.join(options.dataDir, 'thumbnails') });
      this.imagesSession = new ImagesSession(path.join(options.dataDir, 'sessions', IMAGES_SESSION_FILE));
    }
    this.compare = new CompareModel(this.store, { ep: options.ep ?? 'auto', cacheDir: options.cacheDir });
    // A private mkdtemp folder (0700) created on first use, never a predictable shared path (temp-dirs.ts).
    this.batches = new BatchJobs(
      {
        tempBase: options.cacheDir,
        ...(options.host.batchRoot ? { within: options.host.batchRoot } : {}),
        ...(this.sessions ? { sessions: this.sessions } : {}),
      },
      (event, payload) => options.host.emit(event, payload),
    );
    this.explanations = new ExplainRequests((event, payload) => options.host.emit(event, payload));
    // Lesion studies' journals and tables: a private mkdtemp folder (0700) too, created on first use.
    this.blocks = new BlockRequests(
      () => createRunDir('lesion-studies', options.cacheDir),
      (event, payload) => options.host.emit(event, payload),
      options.host.batchRoot,
    );
  }

  async start(): Promise<void> {
    if (this.options.initialModel) await this.select(this.options.initialModel, this.options.ep ?? 'auto');
  }

  async handle<N extends RequestName>(method: N, params: RequestParams<N>, context: RequestContext = {}): Promise<RequestResults[N]> {
    if (context.signal?.aborted) throw new EngineError(ErrorCode.CANCELLED, 'the page that asked has gone');
    if (!Object.hasOwn(this.handlers, method)) throw new EngineError(ErrorCode.NOT_AVAILABLE, `${method} is not available in this build`);
    // TypeScript cannot narrow a mapped type indexed by a generic key to that key's handler: the
    // table's own type (RequestHandlers) already checked every entry, so this is the only cast.
    const handler = this.handlers[method] as RequestHandler<N>;
    return handler(params, context);
  }

  /** Every request's handler, keyed by the contract's names (sessions and gallery: issue 15). */
  private readonly handlers: RequestHandlers = {
    'engine.status': async () => this.status(),
    'engine.doctor': () => this.doctor(),
    'models.list': () => this.listModels(),
    'models.select': async (p) => {
      await this.select(await this.uiModelName(p.name), p.ep ?? 'auto', p.precision ?? 'fp32');
      return this.status();
    },
    'images.classify': (p, context) => this.interactive(() => this.classify(p.images, p.top ?? 5, context.signal)),
    'images.thumbnail': (p) => {
      const image = this.image(p.image);
      return thumbnailFile(image.path, p.size, image.name);
    },
    'features.get': async (p) => {
      // Compare: another model's view of the photo, from the second model slot (the loaded one stays).
      if (p.model !== undefined && p.model !== (await this.classifier()).name) {
        const name = await this.uiModelName(p.model);
        return this.compare.use(name, (classifier) => this.features(p.image, p, classifier));
      }
      return this.interactive(() => this.features(p.image, p));
    },
    'features.channels': async (p) => {
      const maps: HeatmapValue[] = [];
      for (const channel of p.channels) maps.push(await this.channel(p.image, p.stage, channel));
      return maps;
    },
    'features.report': async (p) => {
      const image = this.image(p.image);
      const loaded = this.loaded;
      try {
        const report = await makeReport(await this.classifier(), image.path, {
          fileName: image.name,
          ...(p.colormap ? { colormap: p.colormap } : {}),
          ...(loaded ? { title: loaded.title, pretrained: loaded.pretrained } : {}),
        });
        const stem =
          image.name
            .replace(/\.[^.]*$/, '')
            .replace(/[^A-Za-z0-9._-]+/g, '_')
            .slice(0, 80) || 'photo';
        return { fileName: `${stem}-report.html`, data: new TextEncoder().encode(report.html) };
      } catch (error) {
        const info = toErrorInfo(error, ErrorCode.DECODE_FAILED, image.name);
        throw new EngineError(info.code, info.message, { item: image.name, cause: error });
      }
    },
    'features.channel': (p) => this.channel(p.image, p.stage, p.channel),
    'explain.get': async (p, context) => {
      const image = this.image(p.image);
      return this.explanations.explain(await this.classifier(), p, image, context.signal);
    },
    'explain.cancel': async (p) => this.explanations.cancel(p.image),
    'explain.labels': async () => ({ labels: [...(await this.classifier()).labels] }),
    'batch.start': async (p) => {
      const folder = this.folder(p.folder);
      const queue = p.workers === true ? this.queueUrl() : undefined;
      return this.batches.start(await this.classifier(), folder, { top: p.top, exact: p.exact, queue });
    },
    'batch.control': (p) => this.batches.control(p.batch, p.action),
    'batch.list': async () => this.batches.list(),
    'batch.rows': async (p) => this.batches.rows(p.batch, p.offset, p.limit),
    'batch.export': (p) => this.batches.export(p.batch, p.format),
    'batch.organize': (p) => this.batches.organize(p.batch, this.folder(p.destination), p),
    'blocks.get': async (p) => {
      const image = this.image(p.image);
      try {
        return await this.blocks.blocks(await this.classifier(), { id: p.image, path: image.path }, p.scales);
      } catch (error) {
        const info = toErrorInfo(error, ErrorCode.DECODE_FAILED, image.name);
        throw new EngineError(info.code, info.message, { item: image.name, cause: error });
      }
    },
    'blocks.features': async (p) => {
      const image = this.image(p.image);
      try {
        return await this.blocks.features(await this.classifier(), { id: p.image, path: image.path }, p);
      } catch (error) {
        const info = toErrorInfo(error, ErrorCode.DECODE_FAILED, image.name);
        throw new EngineError(info.code, info.message, { item: image.name, cause: error });
      }
    },
    'lesion.start': async (p) => this.blocks.start(await this.classifier(), this.folder(p.folder), { blocks: p.blocks, exact: p.exact }),
    'lesion.control': async (p) => this.blocks.control(p.study, p.action),
    'lesion.export': (p) => this.blocks.export(p.study, p.format),
    'sessions.list': async () => {
      const { sessions, notice } = await this.batches.sessions();
      return { sessions: sessions.map(({ id, kind: _kind, ...rest }) => ({ batch: id, ...rest })), notice };
    },
    'sessions.open': async (p) => {
      const loaded = this.loaded?.classifier;
      const entry = await this.sessions?.get(p.batch);
      return this.batches.open(p.batch, loaded && entry && entry.model === loaded.name ? loaded.labels : undefined);
    },
    'sessions.forget': async (p) => ({ forgotten: await this.batches.forget(p.batch) }),
    'batch.resume': async (p) => this.batches.resume(p.batch, await this.classifier(), { retryFailed: p.retryFailed === true }),
    'results.thumbnail': async (p) => {
      const file = await this.batches.resultFile(p.batch, p.index);
      return this.thumbnails ? this.thumbnails.get(file.path, p.size, file.name) : thumbnailFile(file.path, p.size, file.name);
    },
    'results.open': async (p) => {
      const file = await this.batches.resultFile(p.batch, p.index);
      return { image: this.resultImages.issue(file), name: file.name };
    },
    'sessions.images': () => this.keptImages(),
    'sessions.clearImages': async (p) => {
      const paths = p.images?.flatMap((id) => {
        const image = this.options.host.resolveImage(id) ?? this.resultImages.resolve(id);
        return image ? [image.path] : [];
      });
      return { cleared: (await this.imagesSession?.clear(paths)) ?? 0 };
    },
  };

  /** The kept Images session: results as they were, an image id for each photo still there. */
  private async keptImages(): Promise<RequestResults['sessions.images']> {
    if (!this.imagesSession) return { cards: [], notice: null };
    const entries = await this.imagesSession.list();
    // Only ids the host still resolves to the same file: nothing the file names is opened otherwise.
    const cards = entries.map((e) => {
      const live = this.options.host.resolveImage(e.id)?.path === e.path;
      return { image: live ? (e.id as RequestResults['results.open']['image']) : null, name: e.name, model: e.model, at: e.at, result: e.result };
    });
    return { cards, notice: this.imagesSession.notice };
  }

  /**
   * The priority lane: a photo the user is waiting for holds the loaded model's background (batch)
   * runs back from the moment its request arrives, through its decode, until its own run is done
   * (engine/infer/gate.ts).
   */
  private async interactive<T>(work: () => Promise<T>): Promise<T> {
    const release = this.loaded && !this.loading ? this.loaded.classifier.reserveInteractive() : () => undefined;
    try {
      return await work();
    } finally {
      release();
    }
  }

  /**
   * A host saw interactive work start before its request (browser mode: a photo's upload). Holds the
   * batch back for a moment (EXPECT_INTERACTIVE_MS, expiring by itself) so the request that follows is
   * not queued behind another batch run: onnxruntime blocks this thread for each run, so every run
   * that slips in between costs the waiting user a whole run.
   */
  expectInteractive(): void {
    if (this.loaded && !this.loading) this.loaded.classifier.reserveInteractive(EXPECT_INTERACTIVE_MS);
  }

  private queueUrl(): string {
    if (!this.options.queueUrl)
      throw new EngineError(ErrorCode.INVALID_ARGUMENT, 'no batch queue is configured (start the app or server with a queue URL, see docs/queue.md)');
    return this.options.queueUrl;
  }

  status(): EngineStatus {
    const loaded = this.loaded;
    const queue = this.options.queueUrl ? { queue: { url: redactUrl(this.options.queueUrl) } } : {};
    if (!loaded) return { model: null, versions: versions(), ...queue };
    const c = loaded.classifier;
    return {
      model: {
        name: c.name,
        title: loaded.title,
        pretrained: loaded.pretrained,
        ...(loaded.notes.length > 0 ? { notes: loaded.notes } : {}),
        classes: c.info.classes,
        params: c.info.params,
        macs: c.info.macs,
        ep: c.ep,
        epLabel: c.fallback ? `${loaded.backend} — fell back to CPU: ${c.fallback.reason}` : loaded.backend,
        epAttempts: c.epAttempts,
        threads: c.threads,
        featuresAvailable: c.stageMap !== undefined,
        ...(c.stagesError ? { featuresError: c.stagesError } : {}),
        // The int8 graph has no stage taps (its Relus are folded into the quantisation): said, not hidden.
        ...(c.precision === 'int8'
          ? { featuresError: 'feature maps are computed in fp32: the int8 copy has no stage outputs (switch precision to fp32 to see them)' }
          : {}),
        ...(loaded.architecture ? { architecture: loaded.architecture } : {}),
        ...(c.precision === 'int8' ? { precision: 'int8' as const } : {}),
        ...(loaded.int8 !== undefined ? { int8: loaded.int8 } : {}),
      },
      versions: versions(),
      ...queue,
    };
  }

  private async doctor(): Promise<RequestResults['engine.doctor']> {
    const report = await runDoctor({ ep: this.options.ep ?? 'auto' });
    return {
      backend: report.backend,
      providers: report.providers.map((p) => ({
        ep: p.ep,
        title: p.title,
        ok: p.ok,
        status: p.status,
        reason: p.reason,
        bundled: p.bundled,
        inAuto: p.inAuto,
      })),
      autoOrder: report.autoOrder,
      cpu: { model: report.cpu.model, threads: report.cpu.threads },
      gpus: report.gpus.map((g) => ({ name: g.name })),
      versions: { ...report.versions },
    };
  }

  private async listModels(): Promise<ModelEntry[]> {
    return (await this.store.list()).map((m) => ({
      name: m.name,
      title: m.title,
      source: m.source,
      installed: m.installed,
      bytes: m.bytes,
      ...(m.architecture ? { architecture: m.architecture } : {}),
      ...(m.variant ? { variant: m.variant } : {}),
    }));
  }

  /** Loads a model (pulling it first when needed); the previous one keeps serving until the new one is ready. */
  private async select(name: string, ep: NonNullable<EngineServiceOptions['ep']>, precision: PrecisionValue = 'fp32'): Promise<void> {
    // Switching the precision of the loaded model reloads what it was loaded from (its name may be a file's stem).
    const reference = this.loaded && this.loaded.classifier.name === name ? this.loaded.reference : name;
    const load = (async () => {
      // The engine's one way to open a model (the CLI's is the same call); int8 is chosen by the
      // user, never silently: the copy is found by the fp32 file's SHA-256.
      const opened = await openModel(reference, {
        store: this.store,
        ep,
        precision,
        ...(this.options.cacheDir ? { cacheDir: this.options.cacheDir } : {}),
        onDownload: (p) => this.options.host.emit('model.progress', { name, phase: 'download', received: p.received, total: p.total }),
        onLoading: () => this.options.host.emit('model.progress', { name, phase: 'load' }),
      });
      const { classifier, architecture } = opened;
      const int8 = opened.int8 ? int8Value(opened.int8.record) : null;
      return {
        classifier,
        backend: opened.backend,
        title: opened.title,
        pretrained: opened.resolved.pretrained,
        notes: opened.notes,
        int8,
        reference,
        ...(architecture ? { architecture } : {}),
      };
    })();
    this.loading = load;
    try {
      const next = await load;
      const previous = this.loaded;
      this.loaded = next;
      this.featureCache.clear();
      void this.explanations.release();
      this.options.host.emit('engine.status', this.status());
      // The feature view's session opens now, in the background, so the first photo dropped is not
      // held up by it; when onnxruntime refuses the feature graph, the status says so at once.
      if (next.classifier.stageMap)
        void next.classifier.prepareFeatures().then((ready) => {
          if (!ready && this.loaded === next) this.options.host.emit('engine.status', this.status());
        });
      // A batch still running on the previous model finishes on it; release it afterwards.
      if (previous) {
        void Promise.all([this.batches.idle(previous.classifier), this.blocks.idle(previous.classifier)])
          .then(() => releaseBlockLens(previous.classifier))
          .then(() => previous.classifier.dispose());
      }
    } finally {
      if (this.loading === load) this.loading = undefined;
    }
  }

  /**
   * The UI picks models from the list only: a catalog or store name. A path (or a bare name that the
   * command line would look up in the working folder) is refused without touching the disk, and the
   * answer names no folder of this machine.
   */
  private async uiModelName(name: string): Promise<string> {
    // The model the host was started with (`serve --model PATH`) may be chosen again (e.g. another provider).
    // The loaded model by its own name too (a precision switch of a model given as a file: `select`
    // reloads what it was loaded from, never a path the page names).
    if (name === this.loaded?.classifier.name) return name;
    if (name === this.options.initialModel || this.store.catalogEntry(name) || (await this.store.get(name).catch(() => undefined))) return name;
    throw new EngineError(
      ErrorCode.MODEL_NOT_FOUND,
      `no model named ${JSON.stringify(name.slice(0, 80))} in the catalog or the model store: choose one from the list`,
    );
  }

  private async classifier(): Promise<Classifier> {
    if (this.loading) await this.loading.catch(() => undefined);
    if (!this.loaded) throw new EngineError(ErrorCode.MODEL_NOT_FOUND, 'no model is loaded: choose one in the model picker');
    return this.loaded.classifier;
  }

  private image(id: string): { path: string; name: string } {
    const image = this.options.host.resolveImage(id) ?? this.resultImages.resolve(id);
    if (!image) throw new EngineError(ErrorCode.INVALID_ARGUMENT, `unknown image ${id}: add it by dropping or choosing it first`);
    return image;
  }

  private folder(id: string): string {
    const folder = this.options.host.resolveFolder(id);
    if (!folder) throw new EngineError(ErrorCode.INVALID_ARGUMENT, `unknown folder ${id}: choose it first`);
    return folder;
  }

  private async classify(ids: ImageId[], top: number, signal?: AbortSignal): Promise<ImageResult[]> {
    const classifier = await this.classifier();
    const known = ids.map((id) => ({ id, image: this.options.host.resolveImage(id) }));
    const results: ImageResult[] = [];
    const items = known.filter((k) => k.image).map((k) => ({ path: (k.image as { path: string }).path }));
    const byPath = new Map<string, ImageResult['result']>();
    for await (const result of classifyFiles(classifier, items, { top, ...(signal ? { signal } : {}) })) {
      byPath.set(
        result.path,
        'error' in result
          ? { error: result.error }
          : {
              top: result.top,
              ep: result.ep,
              ms: result.ms,
              ...(result.precision ? { precision: result.precision } : {}),
              ...(result.timings ? { timings: result.timings } : {}),
            },
      );
    }
    for (const { id, image } of known) {
      if (!image) results.push({ image: id, name: id, result: { error: { code: ErrorCode.INVALID_ARGUMENT, message: `unknown image ${id}` } } });
      else
        results.push({ image: id, name: image.name, result: byPath.get(image.path) ?? { error: { code: ErrorCode.INFERENCE_FAILED, message: 'no result' } } });
    }
    // The Images session is kept (issue 15): a reload or restart shows these cards again.
    if (this.imagesSession) {
      const at = new Date().toISOString();
      const kept = known.flatMap(({ id, image }) => {
        const result = results.find((r) => r.image === id)?.result;
        if (!image || !result || ('error' in result && result.error.code === ErrorCode.CANCELLED)) return [];
        return [
          {
            path: image.path,
            id,
            name: image.name.slice(0, 300),
            at,
            model: classifier.name,
            result:
              'error' in result
                ? { error: { code: result.error.code, message: result.error.message.slice(0, 2000) } }
                : { top: result.top, ep: result.ep, ms: result.ms },
          },
        ];
      });
      await this.imagesSession
        .add(kept)
        .catch((error: unknown) =>
          process.stderr.write(`sessions: could not keep the Images session: ${error instanceof Error ? error.message : String(error)}\n`),
        );
    }
    return results;
  }

  private async features(id: ImageId, params: RequestParams<'features.get'>, second?: Classifier): Promise<FeaturesValue> {
    const classifier = second ?? (await this.classifier());
    const image = this.image(id);
    try {
      const { result, decoded } = await extractFeatures(classifier, image.path, {
        topChannels: params.channels ?? 8,
        topClasses: params.classes ?? 5,
        heatmapMode: params.mode ?? 'mean',
      });
      const crop = await photoCrop(decoded, result.photoRegion, 448);
      const jpeg = await sharp(crop.data, { raw: { width: crop.width, height: crop.height, channels: 3 } })
        .jpeg({ quality: 88 })
        .toBuffer();
      // Two images at most (the feature view's and a compared photo's): full maps are ~7 MB for
      // ResNet-50. A compared model's maps are not kept (its channels are not asked for).
      if (!second) {
        this.featureCache.delete(id);
        while (this.featureCache.size >= 2) this.featureCache.delete(this.featureCache.keys().next().value as ImageId);
      }
      if (!second)
        this.featureCache.set(id, {
          classifier,
          ranked: Object.fromEntries(result.stages.map((s) => [s.name, new Map(s.topChannels.map((c) => [c.channel, c.map]))])) as FeatureCacheEntry['ranked'],
        });
      return {
        image: id,
        top: result.top,
        ep: result.ep,
        ms: result.ms,
        crop: { jpeg: new Uint8Array(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength), width: crop.width, height: crop.height },
        stages: result.stages.map((s) => stageValue(classifier, s, { channelMeans: true })),
        cams: result.cams.map(camValue),
      };
    } catch (error) {
      const info = toErrorInfo(error, ErrorCode.DECODE_FAILED, image.name);
      throw new EngineError(info.code, info.message, { item: image.name, cause: error });
    }
  }

  private async channel(id: ImageId, stage: StageName, channel: number): Promise<HeatmapValue> {
    const cached = this.featureCache.get(id);
    if (!cached) throw new EngineError(ErrorCode.INVALID_ARGUMENT, 'open the feature view of this image first');
    const ranked = cached.ranked[stage].get(channel);
    if (ranked) return heatmapValue(ranked);
    const classifier = cached.classifier;
    const shape = classifier.stageMap?.stages.find((s) => s.name === stage)?.shape;
    if (!shape) throw new EngineError(ErrorCode.UNSUPPORTED_MODEL, classifier.stagesError ?? 'feature maps unavailable for this model');
    if (channel >= shape[0]) throw new EngineError(ErrorCode.INVALID_ARGUMENT, `${stage} has channels 0..${shape[0] - 1}; there is no channel ${channel}`);
    cached.full ??= (await extractFeatures(classifier, this.image(id).path, { keepTensors: true, topChannels: 1, topClasses: 1 })).result.tensors?.stages;
    if (!cached.full) throw new EngineError(ErrorCode.INFERENCE_FAILED, 'the run returned no stage outputs');
    return heatmapValue(channelMap(cached.full[stage], shape, channel));
  }

  private orphanTimer?: NodeJS.Timeout;

  /** The host's count of connected pages changed (browser mode): see orphanBatchGraceMs. */
  connectionsChanged(count: number): void {
    clearTimeout(this.orphanTimer);
    this.orphanTimer = undefined;
    if (count > 0) return;
    this.orphanTimer = setTimeout(() => this.batches.cancelAll(), this.options.orphanBatchGraceMs ?? DEFAULT_ORPHAN_BATCH_GRACE_MS);
    this.orphanTimer.unref();
  }

  async dispose(): Promise<void> {
    clearTimeout(this.orphanTimer);
    await this.batches.dispose();
    await this.explanations.release();
    await this.compare.dispose();
    this.blocks.cancelAll();
    if (this.loaded) {
      await this.blocks.idle(this.loaded.classifier);
      await releaseBlockLens(this.loaded.classifier);
    }
    await this.loaded?.classifier.dispose();
    this.loaded = undefined;
  }
}
