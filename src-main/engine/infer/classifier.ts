// The classifier: one model loaded once, batches of preprocessed images in, top-k classes out.
import * as ort from 'onnxruntime-node';
import { EngineError, ErrorCode } from '../errors.js';
import { type ModelInfo, loadAndInspect } from '../model/inspect.js';
import type { PreprocessSpec } from '../preprocess/preprocess.js';
import { type EpAttempt, createSession } from './session.js';
import type { Ep, EpRequest } from './providers.js';
import { type ClassScore, topK } from './topk.js';

export interface ClassifierOptions {
  /** Name shown in results (catalog name, or the file name for a model given as a path). */
  name: string;
  modelPath: string;
  preprocessing: PreprocessSpec;
  labels: readonly string[];
  ep?: EpRequest;
  threads?: number;
  cacheDir?: string;
}

export interface BatchOutput {
  /** Per image, the raw logits (a view into the run's output). */
  logits: Float32Array[];
  inferenceMs: number;
}

export class Classifier {
  readonly name: string;
  readonly info: ModelInfo;
  readonly preprocessing: PreprocessSpec;
  readonly labels: readonly string[];
  readonly ep: Ep;
  readonly epAttempts: EpAttempt[];
  readonly threads: number;
  readonly loadMs: number;
  /** Largest batch a single run may take: 1 for models whose batch axis is fixed. */
  readonly maxRunBatch: number;
  private readonly session: ort.InferenceSession;
  private readonly outputName: string;

  private constructor(options: ClassifierOptions, info: ModelInfo, choice: Awaited<ReturnType<typeof createSession>>, loadMs: number) {
    this.name = options.name;
    this.info = info;
    this.preprocessing = options.preprocessing;
    this.labels = options.labels;
    this.session = choice.session;
    this.ep = choice.ep;
    this.epAttempts = choice.attempts;
    this.threads = choice.threads;
    this.loadMs = loadMs;
    this.outputName = info.output.name;
    this.maxRunBatch = info.input.dynamicBatch ? Number.POSITIVE_INFINITY : 1;
  }

  static async load(options: ClassifierOptions): Promise<Classifier> {
    const start = performance.now();
    const { info } = await loadAndInspect(options.modelPath);
    const { crop, layout } = options.preprocessing;
    const { height, width } = info.input;
    if ((height !== null && height !== crop) || (width !== null && width !== crop)) {
      throw new EngineError(ErrorCode.UNSUPPORTED_MODEL, `model expects ${width}×${height} input but its preprocessing crops ${crop}×${crop}`, { item: options.modelPath });
    }
    if (layout !== info.input.layout) {
      throw new EngineError(ErrorCode.UNSUPPORTED_MODEL, `model input is ${info.input.layout} but its preprocessing produces ${layout}`, { item: options.modelPath });
    }
    if (options.labels.length !== info.classes) {
      throw new EngineError(ErrorCode.LABELS_INVALID, `the label set has ${options.labels.length} names but the model outputs ${info.classes} classes; pass a labels file with one name per class`, { item: options.modelPath });
    }
    let choice;
    try {
      choice = await createSession(options.modelPath, { ep: options.ep ?? 'auto', threads: options.threads, cacheDir: options.cacheDir, modelSha256: info.sha256 });
    } catch (error) {
      if (error instanceof EngineError) throw error;
      throw new EngineError(ErrorCode.INVALID_MODEL, `onnxruntime cannot load the model: ${(error as Error).message}`, { item: options.modelPath, cause: error });
    }
    return new Classifier(options, info, choice, performance.now() - start);
  }

  /** Elements of one preprocessed image. */
  get imageSize(): number {
    return 3 * this.preprocessing.crop * this.preprocessing.crop;
  }

  /** Runs `count` images packed in `batch` (count × imageSize floats); loops for fixed-batch models. */
  async run(batch: Float32Array, count: number): Promise<BatchOutput> {
    const size = this.imageSize;
    const { crop, layout } = this.preprocessing;
    const start = performance.now();
    const logits: Float32Array[] = [];
    const step = Math.min(count, this.maxRunBatch);
    for (let first = 0; first < count; first += step) {
      const n = Math.min(step, count - first);
      const data = batch.subarray(first * size, (first + n) * size);
      const dims = layout === 'NCHW' ? [n, 3, crop, crop] : [n, crop, crop, 3];
      let output: ort.Tensor;
      try {
        const result = await this.session.run({ [this.info.input.name]: new ort.Tensor('float32', data, dims) });
        output = result[this.outputName];
      } catch (error) {
        throw new EngineError(ErrorCode.INFERENCE_FAILED, `inference failed on ${this.ep}: ${(error as Error).message.split('\n')[0]}`, { cause: error });
      }
      const values = output.data as Float32Array;
      const classes = values.length / n;
      for (let i = 0; i < n; i++) logits.push(values.subarray(i * classes, (i + 1) * classes));
    }
    return { logits, inferenceMs: performance.now() - start };
  }

  top(logits: Float32Array, k: number): ClassScore[] {
    return topK(logits, k, this.labels);
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
