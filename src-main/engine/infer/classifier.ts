// The classifier: one model loaded once, batches of preprocessed images in, top-k classes out.
// Two sessions on the model: classification runs the model as it is; the feature view (and the
// full stage tensors) run a copy with the stage outputs and their reductions in its main graph
// (model/reduction-graph.ts, placement 'inline'), opened on first use. When one session served
// both, every plain run paid for the stage tensors leaving onnxruntime's blocked layout for the
// switched-off reductions (+1.5–2.9% per ResNet-50 image, interleaved runs, 2026-12-02). A second
// session costs memory instead (ResNet-50 ~140 MB, ResNet-152 ~240 MB resident), and only in
// processes that show feature maps.
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import { type ExposedTensor, discardExposedModel, exposedModelFile, withExposedTensors } from '../model/expose.js';
import { type ModelInfo, loadAndInspect } from '../model/inspect.js';
import { type PreparedModel, readPrepared, writePrepared } from '../model/prepared-cache.js';
import { type StageMap, discoverStages } from '../model/stages.js';
import { type StageName } from '../core/vocabulary.js';
import { encodeModel, tensorFloats } from '../model/onnx-proto.js';
import {
  CAM_OUTPUTS,
  GRAPH_TOP_CLASSES,
  HEATMAP_MAX_SWITCH,
  REDUCTIONS_VERSION,
  addStageReductions,
  heatmapOutput,
  reductionOutputs,
  summaryOutputs,
} from '../model/reduction-graph.js';
import type { ClassifierWeights } from '../model/classifier-weights.js';
import type { PreprocessSpec } from '../preprocess/preprocess.js';
import type { EpAttempt } from './provider-attempt.js';
import { createSession } from './session.js';
import { type FallbackEvent, type SessionRunner, runnerFor } from './session-runner.js';
import { defaultBatchSize } from './providers.js';
import { type Ep, type EpRequest, type HeatmapMode } from '../core/vocabulary.js';
import { InferenceGate, type RunPriority } from './gate.js';
import { type ClassScore, DEFAULT_TOP_CLASSES, scoresOf, topK } from './topk.js';

export interface ClassifierOptions {
  /** Name shown in results (catalog name, or the file name for a model given as a path). */
  name: string;
  modelPath: string;
  preprocessing: PreprocessSpec;
  labels: readonly string[];
  ep?: EpRequest;
  threads?: number;
  cacheDir?: string;
  /** Expose the stage outputs so feature maps come from the same run as the logits (default true). */
  stages?: boolean;
  /** Told when a GPU fails mid-run and the rest of the work moves to the CPU. */
  onFallback?: (event: FallbackEvent) => void;
  /** The numbers the model computes in: 'int8' for a quantised copy (engine/quantize), shown on every result. */
  precision?: Precision;
}

export type Precision = 'fp32' | 'int8';

/** One image's stage maps, [C,H,W] float32 each, plus the head's pooled-from features. */
export interface ImageFeatures {
  stages: Record<StageName, Float32Array>;
  headFeatures: Float32Array;
}

/** One stage reduced inside the graph (see model/reduction-graph.ts). */
export interface StageSummary {
  /** H×W mean or max over channels, not normalised. */
  heatmap: Float32Array;
  /** Every channel's mean activation. */
  channelMeans: Float32Array;
  max: number;
  nonZeroFraction: number;
  /** Channels with the highest mean, best first, and their maps (K × H×W). */
  topChannels: number[];
  topMaps: Float32Array;
}

/** One image's in-graph reductions: stage summaries and the class activation maps of the best classes. */
export interface ImageSummary {
  stages: Record<StageName, StageSummary>;
  /** Raw class activation maps (h×w each) of `camClasses`, the best classes first (onnxruntime's TopK order). */
  cams: Float32Array;
  camClasses: number[];
  /** The head's features, fetched only when more classes were asked for than the graph maps (see SummaryRequest). */
  headFeatures?: Float32Array;
}

/** What a run with in-graph reductions returns besides the logits. */
export interface SummaryRequest {
  heatmapMode: HeatmapMode;
  /**
   * Classes that will get a class activation map (default DEFAULT_TOP_CLASSES). The graph maps its best
   * GRAPH_TOP_CLASSES; only beyond that are the head's features fetched, to map the rest in
   * JavaScript. Fetching them always cost ~1 ms per ResNet-50 image (401 KB, a fresh output buffer
   * each run: see model/reduction-graph.ts).
   */
  classes?: number;
}

/** The outputs a summary run fetches (besides the logits), for the classifier and the block lens alike. */
export function summaryFetches(map: StageMap, request: SummaryRequest): string[] {
  const stageNames = map.stages.map((s) => s.name);
  const fetches = [...summaryOutputs(stageNames, request.heatmapMode), CAM_OUTPUTS.classes, CAM_OUTPUTS.maps];
  if ((request.classes ?? DEFAULT_TOP_CLASSES) > GRAPH_TOP_CLASSES) fetches.push(map.head.features);
  return fetches;
}

export interface RunOptions {
  /** Also fetch every stage tensor in full (npy export, any channel's map): ~7 MB per ResNet-50 image. */
  features?: boolean;
  /** Also compute the stage reductions inside the graph (the feature view's fast path). */
  summary?: SummaryRequest;
  priority?: RunPriority;
}

export interface BatchOutput {
  /** Per image, the raw logits (a view into the run's output). */
  logits: Float32Array[];
  inferenceMs: number;
  /** Present when the run asked for features. */
  features?: ImageFeatures[];
  /** Present when the run asked for a summary. */
  summaries?: ImageSummary[];
  /** The provider that ran each image (the CPU after a mid-run GPU failure). */
  epByImage: Ep[];
}

export class Classifier {
  readonly name: string;
  readonly info: ModelInfo;
  readonly preprocessing: PreprocessSpec;
  readonly labels: readonly string[];
  readonly epAttempts: EpAttempt[];
  readonly threads: number;
  readonly loadMs: number;
  readonly precision: Precision;
  /** Largest batch a single run may take: 1 for models whose batch axis is fixed. */
  readonly maxRunBatch: number;
  private stages: { map?: StageMap; error?: string };
  /** The fully connected layer's weights, for class activation maps. */
  readonly headWeights?: ClassifierWeights;
  /** Where the model came from and how it was opened (explanations open a second, gradient session alike). */
  readonly source: Pick<ClassifierOptions, 'modelPath' | 'cacheDir' | 'ep' | 'threads' | 'onFallback'>;
  private readonly runner: SessionRunner;
  /** The graph with stage outputs and reductions, and its session once opened. */
  private readonly featureSource?: { source: string | Uint8Array; sha256: string };
  private featureRunner?: Promise<SessionRunner>;
  private readonly outputName: string;
  private readonly gate = new InferenceGate();

  /** Where the model came from and where edited copies are cached (other lenses on the model, e.g. blocks/, build their own sessions from them). */
  get modelPath(): string {
    return this.source.modelPath;
  }
  get cacheDir(): string | undefined {
    return this.source.cacheDir;
  }

  private constructor(
    options: ClassifierOptions,
    info: ModelInfo,
    choice: Awaited<ReturnType<typeof createSession>>,
    runner: SessionRunner,
    loadMs: number,
    stages: { map?: StageMap; error?: string; head?: ClassifierWeights },
    featureSource: { source: string | Uint8Array; sha256: string } | undefined,
  ) {
    this.name = options.name;
    this.info = info;
    this.preprocessing = options.preprocessing;
    this.labels = options.labels;
    this.runner = runner;
    this.epAttempts = choice.attempts;
    this.threads = choice.threads;
    this.loadMs = loadMs;
    this.precision = options.precision ?? 'fp32';
    this.outputName = info.output.name;
    this.maxRunBatch = info.input.dynamicBatch ? Number.POSITIVE_INFINITY : 1;
    this.stages = { map: stages.map, error: stages.error };
    this.featureSource = featureSource;
    this.headWeights = stages.head;
    this.source = { modelPath: options.modelPath, cacheDir: options.cacheDir, ep: options.ep, threads: options.threads, onFallback: options.onFallback };
  }

  static async load(options: ClassifierOptions): Promise<Classifier> {
    const start = performance.now();
    // A model loaded before starts from what that load learned (hash, inspection, stages, head):
    // see model/prepared-cache.ts. Remembered only where the edited graph is a cached file.
    const variant = `reductions-v${REDUCTIONS_VERSION}`;
    const remember = options.cacheDir !== undefined && options.stages !== false;
    const remembered = remember ? await readPrepared(options.cacheDir as string, options.modelPath, variant) : undefined;
    const prepared: FirstLoad = remembered ?? (await prepareModel(options));
    if (remember && !remembered && (prepared.exposed || prepared.stagesRemembered))
      await writePrepared(options.cacheDir as string, options.modelPath, variant, prepared);
    const { info } = prepared;
    const { crop, layout } = options.preprocessing;
    const { height, width } = info.input;
    if ((height !== null && height !== crop) || (width !== null && width !== crop)) {
      throw new EngineError(ErrorCode.UNSUPPORTED_MODEL, `model expects ${width}×${height} input but its preprocessing crops ${crop}×${crop}`, {
        item: options.modelPath,
      });
    }
    if (layout !== info.input.layout) {
      throw new EngineError(ErrorCode.UNSUPPORTED_MODEL, `model input is ${info.input.layout} but its preprocessing produces ${layout}`, {
        item: options.modelPath,
      });
    }
    if (options.labels.length !== info.classes) {
      throw new EngineError(
        ErrorCode.LABELS_INVALID,
        `the label set has ${options.labels.length} names but the model outputs ${info.classes} classes; pass a labels file with one name per class`,
        { item: options.modelPath },
      );
    }
    const stages = { map: prepared.stageMap, error: prepared.stagesError, head: prepared.head };
    const featureGraph: string | Uint8Array | undefined = prepared.exposed?.file ?? prepared.exposedBytes;
    const featureSource = featureGraph ? { source: featureGraph, sha256: prepared.exposed?.sha256 ?? '' } : undefined;
    const probeDims = layout === 'NCHW' ? [1, 3, crop, crop] : [1, crop, crop, 3];
    const sessionOptions = { threads: options.threads, cacheDir: options.cacheDir, modelSha256: info.sha256 };
    let choice;
    try {
      choice = await createSession(options.modelPath, { ...sessionOptions, ep: options.ep ?? 'auto', probe: { dims: probeDims, output: info.output.name } });
    } catch (error) {
      if (error instanceof EngineError) throw error;
      throw new EngineError(ErrorCode.INVALID_MODEL, `onnxruntime cannot load the model: ${(error as Error).message}`, {
        item: options.modelPath,
        cause: error,
      });
    }
    const runner = runnerFor(choice, options.modelPath, sessionOptions, options.onFallback);
    return new Classifier(options, info, choice, runner, performance.now() - start, stages, featureSource);
  }

  /** Where the stages are, or undefined when feature maps are unavailable for this model (then `stagesError` says why). */
  get stageMap(): StageMap | undefined {
    return this.stages.map;
  }
  get stagesError(): string | undefined {
    return this.stages.error;
  }

  /**
   * Opens the feature session now rather than at the first feature request (the app does this in
   * the background after a model loads). Resolves false, with `stagesError` set, when onnxruntime
   * refuses the edited graph.
   */
  async prepareFeatures(): Promise<boolean> {
    if (!this.stages.map) return false;
    try {
      await this.features();
      return true;
    } catch {
      return false;
    }
  }

  /** The feature session, opened once on the provider classification runs on. */
  private features(): Promise<SessionRunner> {
    const source = this.featureSource;
    if (!this.stages.map || !source)
      return Promise.reject(new EngineError(ErrorCode.UNSUPPORTED_MODEL, this.stages.error ?? 'feature maps unavailable for this model'));
    this.featureRunner ??= (async () => {
      const { crop, layout } = this.preprocessing;
      const sessionOptions = { threads: this.threads, cacheDir: this.source.cacheDir, modelSha256: source.sha256 || undefined };
      const probe = { dims: layout === 'NCHW' ? [1, 3, crop, crop] : [1, crop, crop, 3], output: this.outputName };
      try {
        const choice = await createSession(source.source, { ...sessionOptions, ep: this.runner.ep, probe });
        return runnerFor(choice, source.source, sessionOptions, this.source.onFallback);
      } catch (error) {
        // The graph with stage outputs was refused (or its cached copy is damaged): classification
        // goes on, feature maps are off with the reason, and the cached copy is dropped so the next
        // load rebuilds it.
        const reason = (error as Error).message.split('\n')[0];
        const why = `feature maps unavailable: onnxruntime refused the graph with stage outputs (${reason})`;
        this.stages = { error: why };
        if (typeof source.source === 'string') await discardExposedModel(source.source);
        throw new EngineError(ErrorCode.UNSUPPORTED_MODEL, why, { cause: error });
      }
    })();
    return this.featureRunner;
  }

  /** The provider running inference now: the one chosen at load, or the CPU after a mid-run GPU failure. */
  get ep(): Ep {
    return this.runner.ep;
  }

  /** Set when a GPU failed mid-run and the work moved to the CPU. */
  get fallback(): FallbackEvent | undefined {
    return this.runner.fallback;
  }

  /** Images per run when the caller does not choose: large on a GPU, small on the CPU. */
  get defaultBatchSize(): number {
    return defaultBatchSize(this.ep);
  }

  /** Elements of one preprocessed image. */
  get imageSize(): number {
    return 3 * this.preprocessing.crop * this.preprocessing.crop;
  }

  /** Runs `count` images packed in `batch` (count × imageSize floats); loops for fixed-batch models. */
  async run(batch: Float32Array, count: number, options: RunOptions = {}): Promise<BatchOutput> {
    return this.gate.run(options.priority ?? 'interactive', () => this.runNow(batch, count, options));
  }

  private async runNow(batch: Float32Array, count: number, options: RunOptions): Promise<BatchOutput> {
    const withFeatures = options.features === true;
    const summary = options.summary;
    const onFeatureGraph = withFeatures || summary !== undefined;
    const runner = onFeatureGraph ? await this.features() : this.runner;
    const map = this.stageMap;
    const fetches = [this.outputName];
    if (map && withFeatures) fetches.push(...map.stages.map((s) => s.tensor));
    if (map && withFeatures) fetches.push(map.head.features);
    if (map && summary) fetches.push(...summaryFetches(map, summary));
    // The feature graph's one switch (the max heatmaps), fed on every run of it.
    const switches: Record<string, ort.Tensor> = onFeatureGraph ? { [HEATMAP_MAX_SWITCH]: new ort.Tensor('bool', [summary?.heatmapMode === 'max'], []) } : {};
    const features: ImageFeatures[] = [];
    const summaries: ImageSummary[] = [];
    const size = this.imageSize;
    const { crop, layout } = this.preprocessing;
    const start = performance.now();
    const logits: Float32Array[] = [];
    const epByImage: Ep[] = [];
    // The feature graph ranks top channels for a run's first image: it takes one image per run.
    const step = onFeatureGraph ? 1 : Math.min(count, this.maxRunBatch);
    for (let first = 0; first < count; first += step) {
      const n = Math.min(step, count - first);
      const data = batch.subarray(first * size, (first + n) * size);
      const dims = layout === 'NCHW' ? [n, 3, crop, crop] : [n, crop, crop, 3];
      let output: ort.Tensor;
      try {
        const { outputs: result, ep } = await runner.run({ [this.info.input.name]: new ort.Tensor('float32', data, dims), ...switches }, [...new Set(fetches)]);
        output = result[this.outputName];
        for (let i = 0; i < n; i++) epByImage.push(ep);
        if (withFeatures && map) features.push(...splitFeatures(result, map, n));
        if (summary && map) summaries.push(readSummary(result, map, summary.heatmapMode));
      } catch (error) {
        throw new EngineError(ErrorCode.INFERENCE_FAILED, `inference failed on ${runner.ep}: ${(error as Error).message.split('\n')[0]}`, { cause: error });
      }
      const values = output.data as Float32Array;
      const classes = values.length / n;
      for (let i = 0; i < n; i++) logits.push(values.subarray(i * classes, (i + 1) * classes));
    }
    return {
      logits,
      inferenceMs: performance.now() - start,
      epByImage,
      ...(withFeatures ? { features } : {}),
      ...(summary ? { summaries } : {}),
    };
  }

  /** Runs `work` in turn with this model's inference runs (another session on the same model, e.g. the block lens, must not compete with it for the cores). */
  exclusive<T>(priority: RunPriority, work: () => Promise<T>): Promise<T> {
    return this.gate.run(priority, work);
  }

  /** The priority lane (gate.ts): an interactive request holds background runs back from its arrival until its own runs are done. */
  reserveInteractive(maxMs?: number): () => void {
    return this.gate.reserve(maxMs);
  }

  top(logits: Float32Array, k: number): ClassScore[] {
    return topK(logits, k, this.labels);
  }

  /** The scores of `indices`, in their order. */
  scoresOf(logits: Float32Array, indices: readonly number[]): ClassScore[] {
    return scoresOf(logits, indices, this.labels);
  }

  async dispose(): Promise<void> {
    await this.runner.release();
    const features = await this.featureRunner?.catch(() => undefined);
    await features?.release();
  }
}

/** Per image views of each fetched stage tensor ([N,C,H,W] → N × [C,H,W]). */
function splitFeatures(result: ort.InferenceSession.OnnxValueMapType, map: StageMap, n: number): ImageFeatures[] {
  const perImage = (tensorName: string, i: number): Float32Array => {
    const data = result[tensorName].data as Float32Array;
    const size = data.length / n;
    return data.subarray(i * size, (i + 1) * size);
  };
  return Array.from({ length: n }, (_, i) => ({
    stages: Object.fromEntries(map.stages.map((s) => [s.name, perImage(s.tensor, i)])) as Record<StageName, Float32Array>,
    headFeatures: perImage(map.head.features, i),
  }));
}

function maxOf(values: Float32Array): number {
  let max = -Infinity;
  for (const v of values) if (v > max) max = v;
  return max;
}

function meanOf(values: Float32Array): number {
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** One image's in-graph reductions from a one-image run. */
export function readSummary(result: ort.InferenceSession.OnnxValueMapType, map: StageMap, heatmapMode: HeatmapMode): ImageSummary {
  const floats = (name: string): Float32Array => result[name].data as Float32Array;
  const stages = Object.fromEntries(
    map.stages.map((s) => {
      const out = reductionOutputs(s.name);
      const summary: StageSummary = {
        heatmap: floats(heatmapOutput(out, heatmapMode)),
        channelMeans: floats(out.channelMeans),
        max: maxOf(floats(out.channelMax)),
        // Every channel holds H×W values, so the mean of the channels' fractions is the stage's.
        nonZeroFraction: meanOf(floats(out.channelNonZero)),
        topChannels: Array.from(result[out.topChannels].data as BigInt64Array, Number),
        topMaps: floats(out.topMaps),
      };
      return [s.name, summary];
    }),
  ) as Record<StageName, StageSummary>;
  return {
    stages,
    cams: floats(CAM_OUTPUTS.maps),
    camClasses: Array.from(result[CAM_OUTPUTS.classes].data as BigInt64Array, Number),
    ...(map.head.features in result ? { headFeatures: floats(map.head.features) } : {}),
  };
}

function headWeights(model: Awaited<ReturnType<typeof loadAndInspect>>['model'], map: StageMap): ClassifierWeights {
  const find = (name: string) => model.graph.initializer.find((t) => t.name === name);
  const weight = find(map.head.weight);
  if (!weight) throw new EngineError(ErrorCode.UNSUPPORTED_MODEL, `feature maps unavailable: classifier weight ${map.head.weight} not found`);
  const bias = map.head.bias ? find(map.head.bias) : undefined;
  return {
    weight: tensorFloats(weight),
    classesFirst: map.head.classesFirst,
    classes: map.head.classes,
    features: map.head.featuresShape[0],
    bias: bias ? tensorFloats(bias) : undefined,
  };
}

/** A preparation as made: the edited graph in memory when there is no cache folder for it. */
type FirstLoad = PreparedModel & { exposedBytes?: Uint8Array; stagesRemembered?: boolean };

/** What a model's first load works out: its inspection, stages, head and the graph with stage outputs. */
async function prepareModel(options: ClassifierOptions): Promise<FirstLoad> {
  const { info, model } = await loadAndInspect(options.modelPath);
  // The feature graph is built (or found in the cache) at load; its session opens on first use.
  if (options.stages === false) return { info };
  try {
    const map = discoverStages(model, info);
    const exposed: ExposedTensor[] = map.stages.map((s) => ({ name: s.tensor, shape: s.shape }));
    if (map.head.features !== map.stages[map.stages.length - 1].tensor) exposed.push({ name: map.head.features, shape: map.head.featuresShape });
    const hasExternalData = model.graph.initializer.some((t) => t.dataLocation === 1);
    if (hasExternalData) throw new EngineError(ErrorCode.UNSUPPORTED_MODEL, 'feature maps unavailable: models with external weight files cannot be edited yet');
    const batchAxis = info.input.dynamicBatch ? 'N' : 1;
    const build = (): Uint8Array =>
      encodeModel(addStageReductions(withExposedTensors(model, exposed, batchAxis), map.stages, { scores: info.output.name, head: map.head }, 'inline'));
    const head = headWeights(model, map);
    if (options.cacheDir) {
      const cached = await exposedModelFile(path.join(options.cacheDir, 'exposed'), info.sha256, exposed, build, `reductions-v${REDUCTIONS_VERSION}`);
      return { info, stageMap: map, head, exposed: { file: cached.file, sha256: cached.sha256 } };
    }
    return { info, stageMap: map, head, exposedBytes: build() };
  } catch (error) {
    // A model without findable stages stays that way: remembered. A failed write is not.
    return { info, stagesError: error instanceof Error ? error.message : String(error), stagesRemembered: error instanceof EngineError };
  }
}
