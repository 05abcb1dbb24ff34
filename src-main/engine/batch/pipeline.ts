// The streaming classification pipeline behind batch runs:
//
//   walk ──▶ admit (stat, resume check) ──▶ decode pool (N at once) ──▶ ready queue ──▶ inference ──▶ commit
//   count walk (ahead, for the total)                                   (dynamic batches)     (journal + sync, then report)
//
// Decoding (sharp/libvips on libuv's threads, then the exact resize in JS) overlaps inference
// (onnxruntime's own threads): while one batch runs, the next images decode. Every image in flight
// holds a slot from one semaphore (decodes running + decoded images waiting), so memory stays flat
// however large the folder: slots × one 3×224×224 float tensor, plus the images being decoded.
//
// Batches are formed from what is ready, up to the model's batch axis (Classifier.maxRunBatch): a
// full batch runs at once; a partial one runs when nothing more is coming (end of the walk) or has
// waited `lingerMs` (a slow walk over a network share). Results are committed (journal append +
// fdatasync) before they are reported, so a reported result is never lost; the commit of one batch
// overlaps the next batch's inference.
//
// Control (run-control.ts, shared with the queue coordinator): pause() lets running decodes finish
// and starts no new batch ("pausing" while a batch taken before the pause is still to commit);
// cancel() stops within one batch (the batch running completes and is committed, decoded-but-unrun
// images are dropped and will be redone on resume).
import os from 'node:os';
import type { ErrorInfo } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import { type RunOutcome, assembleResult, runBatch } from '../infer/assemble.js';
import type { ClassScore } from '../infer/topk.js';
import type { PreprocessSpec } from '../preprocess/preprocess.js';
import type { FileKey, JournalRecord } from './journal.js';
import { type Preprocessor, createPreprocessor } from './preprocess-pool.js';
import { type BatchProgress, type IsDone, type PipelineSummary, RunControl } from './run-control.js';
import { Semaphore, WakeSignal } from './sync.js';
import { type WalkItem, type WalkOptions, walkInputs } from './walk.js';

// The run's report types live with the run control that produces them; importers of the pipeline keep finding them here.
export type { BatchProgress, BatchState, PipelineStats, PipelineSummary } from './run-control.js';

/** What the pipeline needs of a classifier (Classifier satisfies it; tests may pass a stand-in). */
export interface BatchClassifier {
  readonly name: string;
  readonly ep: string;
  readonly preprocessing: PreprocessSpec;
  readonly maxRunBatch: number;
  readonly imageSize: number;
  /** Images per run when the caller does not choose (the provider's preference). */
  readonly defaultBatchSize?: number;
  /** 'int8' for a quantised copy: its results say so. */
  readonly precision?: 'fp32' | 'int8';
  /** Batch work runs at background priority: interactive requests on the same model go first. */
  run(
    batch: Float32Array,
    count: number,
    options?: { priority?: 'background' },
  ): Promise<{ logits: Float32Array[]; inferenceMs: number; epByImage?: readonly string[]; details?: readonly unknown[] }>;
  top(logits: Float32Array, k: number): ClassScore[];
}

/**
 * 'fast': large JPEGs are decoded at reduced size (DCT shrink-on-load + libvips reduce to a shorter
 * side of 4× the resize target), then resized exactly; 'exact': full decode, bit-exact with torchvision.
 */
export type BatchMode = 'fast' | 'exact';

export interface PipelineOptions {
  inputs: readonly string[];
  classifier: BatchClassifier;
  top?: number;
  /** Largest batch (default: the classifier's default, else 8), capped by the model's batch axis. */
  batchSize?: number;
  /** Images decoding at once, i.e. preprocessing workers (default: half the cores, 2–8). */
  decodeConcurrency?: number;
  /**
   * 'workers' (default): decode and resize in worker threads, truly concurrent with inference (whose
   * run() blocks the main thread); 'main-thread': in this thread (only libvips' decode overlaps).
   */
  preprocessIn?: 'workers' | 'main-thread';
  /** Things the host may want to tell the user (e.g. a fallback to main-thread preprocessing). */
  onNotice?: (message: string) => void;
  mode?: BatchMode;
  maxPixels?: number;
  walk?: WalkOptions;
  /** A partial batch runs once its first image has waited this long (default 250 ms). */
  lingerMs?: number;
  /**
   * Already done (resume): 'ok' or 'failed' skips the file without reading it, false classifies it.
   * `key` is the file's size and mtime now (-1, -1 for an item the walk could not read; null when
   * the file vanished between the walk and its stat, where an earlier success should stand).
   */
  isDone?: IsDone;
  /** Makes a batch's records durable; results are reported only after it resolves. */
  commit?: (records: JournalRecord[]) => Promise<void>;
  /** Results of one committed batch, in the order they were produced. */
  onResults?: (records: JournalRecord[]) => void | Promise<void>;
  onProgress?: (progress: BatchProgress) => void;
  /** Progress events at most this often (default 250 ms), plus one per batch and per state change. */
  progressIntervalMs?: number;
  /**
   * A preprocessor the caller owns and keeps open across runs (a queue worker runs one short
   * pipeline per chunk: starting worker threads for each would cost ~50 ms a chunk). Not closed here.
   */
  preprocessor?: Preprocessor;
}

interface Ready {
  item: WalkItem;
  key: FileKey;
  tensor?: Float32Array;
  ms: number;
  error?: Omit<ErrorInfo, 'item'>;
}

/**
 * Preprocessing workers by default: half the cores (inference takes the rest; a large JPEG costs about
 * as much CPU to decode and resize as ResNet-50 takes to classify it), at least 2 so decoding overlaps
 * inference even on two cores, at most 8.
 */
export function defaultDecodeConcurrency(cores = os.availableParallelism()): number {
  return Math.max(2, Math.min(8, Math.floor(cores / 2)));
}

export class BatchPipeline extends RunControl {
  private readonly ready: Ready[] = [];
  private readonly readySince: number[] = [];
  private decoding = 0;
  private producerDone = false;
  private readonly wake = new WakeSignal();
  private readonly slots: Semaphore;
  /** Images out for preprocessing: set when the preprocessor starts (deeper for workers, see there). */
  private decodeSlots: Semaphore | undefined;
  private readonly pool: Float32Array[] = [];
  private preprocessorReady: Promise<Preprocessor> | undefined;
  private readonly decoders: number;
  /** Batches taken for inference whose results are not committed yet (pause drains them). */
  private inFlight = 0;
  private readonly batchSize: number;
  private readonly top: number;
  private readonly lingerMs: number;

  constructor(private readonly options: PipelineOptions) {
    super({ failureCode: ErrorCode.INFERENCE_FAILED, onProgress: options.onProgress, progressIntervalMs: options.progressIntervalMs });
    const { classifier } = options;
    this.batchSize = Math.max(1, Math.min(options.batchSize ?? classifier.defaultBatchSize ?? 8, classifier.maxRunBatch));
    this.top = options.top ?? 5;
    this.lingerMs = options.lingerMs ?? 250;
    const decoders = Math.max(1, options.decodeConcurrency ?? defaultDecodeConcurrency());
    this.decoders = decoders;
    // Images out for preprocessing (at most decoders + one batch, see preprocessor()) plus decoded
    // images waiting: two full batches beyond those being decoded.
    this.slots = new Semaphore(decoders + 3 * this.batchSize);
  }

  protected override describe(progress: BatchProgress): BatchProgress {
    return progress.state === 'paused' && this.inFlight > 0 ? { ...progress, pausing: true } : progress;
  }

  protected override onWake(): void {
    this.wake.notify();
  }

  protected override onStop(): void {
    this.slots.close();
    this.decodeSlots?.close();
  }

  async run(): Promise<PipelineSummary> {
    this.start();
    try {
      return await this.runStages();
    } finally {
      if (this.preprocessorReady && !this.options.preprocessor) await (await this.preprocessorReady).close();
    }
  }

  /** Workers start with the first image that needs decoding (none at all when everything is resumed). */
  private preprocessor(): Promise<Preprocessor> {
    if (this.preprocessorReady) return this.preprocessorReady;
    const created = this.options.preprocessor
      ? Promise.resolve(this.options.preprocessor)
      : createPreprocessor(this.options.preprocessIn === 'main-thread' ? 0 : this.decoders);
    this.preprocessorReady = created.then((preprocessor) => {
      this.stats.preprocessIn = preprocessor.kind;
      // Workers get a full batch queued beyond one image each: inference blocks the main thread, so
      // whatever is not handed out before a run starts waits for it to end. On the main thread,
      // `decoders` at once (each holds a whole decoded image).
      this.decodeSlots = new Semaphore(preprocessor.kind === 'workers' ? this.decoders + this.batchSize : this.decoders);
      if (this.stopping) this.decodeSlots.close();
      if (preprocessor.fallbackReason) this.options.onNotice?.(preprocessor.fallbackReason);
      return preprocessor;
    });
    return this.preprocessorReady;
  }

  private async runStages(): Promise<PipelineSummary> {
    const counting = this.startCounting(this.options.inputs, this.options.walk);
    const producer = this.produce().catch((error: unknown) => this.fail(error));
    try {
      await this.infer();
    } catch (error) {
      this.fail(error);
    }
    // A cancel or failure has stopped the count walk and closed the semaphores (the producer ends);
    // running decodes settle before the run ends.
    await producer;
    while (this.decoding > 0) await this.wake.wait(50);
    await counting;
    return this.finish();
  }

  private pushReady(entry: Ready): void {
    this.ready.push(entry);
    this.readySince.push(performance.now());
    this.wake.notify();
  }

  /** Walks, skips what is done, and starts decodes as slots free up. */
  private async produce(): Promise<void> {
    const { classifier, mode, maxPixels } = this.options;
    const spec = classifier.preprocessing;
    const shrinkOnLoad = mode === 'exact' ? undefined : { minShorter: 4 * spec.resizeShorter };
    const walker = walkInputs(this.options.inputs, this.options.walk);
    try {
      for await (const item of walker) {
        await this.waitWhilePaused();
        if (this.stopping) break;
        const admitted = await this.admit(item, this.options.isDone);
        if (!admitted) continue;
        await this.slots.acquire();
        if (this.stopping) break;
        const { key, error } = admitted;
        if (error) {
          this.pushReady({ item, key, ms: 0, error });
          continue;
        }
        const preprocessor = await this.preprocessor();
        await (this.decodeSlots as Semaphore).acquire();
        if (this.stopping) break;
        this.decoding++;
        this.markAdmitted();
        void preprocessor
          .run({ file: item.path, spec, maxPixels, shrinkOnLoad }, this.pool.pop())
          .then((outcome) => {
            if ('error' in outcome) {
              if (outcome.tensor) this.pool.push(outcome.tensor);
              this.pushReady({ item, key, ms: 0, error: outcome.error });
            } else {
              this.pushReady({ item, key, tensor: outcome.tensor, ms: outcome.ms });
            }
          })
          .finally(() => {
            this.decoding--;
            this.decodeSlots?.release();
            this.wake.notify();
          });
      }
    } finally {
      await walker.return(undefined);
      this.producerDone = true;
      this.wake.notify();
    }
  }

  /** Ready images whose tensors need inference. */
  private readyImages(): number {
    let n = 0;
    for (const entry of this.ready) if (entry.tensor) n++;
    return n;
  }

  /** Runs batches until the walk is exhausted and every image is committed, or until cancelled. */
  private async infer(): Promise<void> {
    const { classifier } = this.options;
    const size = classifier.imageSize;
    const batch = new Float32Array(this.batchSize * size);
    let committing: Promise<void> = Promise.resolve();
    for (;;) {
      if (this.stopping) break;
      if (this.paused) {
        await this.wake.wait();
        continue;
      }
      const drained = this.producerDone && this.decoding === 0;
      if (drained && this.ready.length === 0) break;
      const images = this.readyImages();
      const waited = this.ready.length > 0 ? performance.now() - this.readySince[0] : 0;
      const due = images >= this.batchSize || (this.ready.length > 0 && (drained || waited >= this.lingerMs));
      if (!due) {
        const waitStart = performance.now();
        await this.wake.wait(this.ready.length > 0 ? Math.max(1, this.lingerMs - waited) : undefined);
        // Starved: images were on their way (decoding) but none ready enough for a batch.
        const firstAdmitAt = this.firstAdmittedAt;
        if (firstAdmitAt !== undefined && !this.paused && this.decoding > 0)
          this.stats.starvedSeconds += (performance.now() - Math.max(waitStart, firstAdmitAt)) / 1000;
        continue;
      }
      // Take images up to a full batch; failed items ride along (they need no inference).
      const taken: Ready[] = [];
      let count = 0;
      while (this.ready.length > 0 && count < this.batchSize) {
        const entry = this.ready.shift() as Ready;
        this.readySince.shift();
        taken.push(entry);
        if (entry.tensor) {
          batch.set(entry.tensor, count * size);
          this.pool.push(entry.tensor);
          count++;
        }
        this.slots.release();
      }
      let run: RunOutcome = { logits: [], inferenceMs: 0 };
      this.inFlight++;
      if (count > 0) {
        const runStart = performance.now();
        run = await runBatch(() => classifier.run(batch.subarray(0, count * size), count, { priority: 'background' }));
        if (!('error' in run)) {
          const stats = this.stats;
          stats.batches++;
          stats.inferred += count;
          stats.inferenceSeconds += (performance.now() - runStart) / 1000;
        }
      }
      const records: JournalRecord[] = [];
      let slot = 0;
      for (const entry of taken) {
        const result = assembleResult(entry.item.path, entry.error ? { error: entry.error } : { ms: entry.ms }, run, slot, classifier, {
          count,
          top: this.top,
        });
        if (!entry.error) slot++;
        records.push({ path: entry.item.path, size: entry.key.size, mtimeMs: entry.key.mtimeMs, result });
      }
      // Commit (durable) then report; the next batch's inference overlaps this batch's sync.
      const previous = committing;
      committing = (async () => {
        try {
          await previous;
          await this.options.commit?.(records);
          this.countCommitted(records);
          await this.options.onResults?.(records);
        } finally {
          this.inFlight--;
        }
        this.emitProgress(true); // with its last results in, a pause is no longer "pausing"
      })();
      committing.catch((error: unknown) => this.fail(error));
    }
    await committing.catch(() => undefined);
  }
}
