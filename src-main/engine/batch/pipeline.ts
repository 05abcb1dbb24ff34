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
// Control: pause() lets running decodes finish and starts no new batch; cancel() stops within one
// batch (the batch running completes and is committed, decoded-but-unrun images are dropped and
// will be redone on resume).
import { stat } from 'node:fs/promises';
import os from 'node:os';
import { type ErrorInfo, toErrorInfo } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import { type RunOutcome, assembleResult, runBatch } from '../infer/assemble.js';
import type { ClassScore } from '../infer/topk.js';
import type { PreprocessSpec } from '../preprocess/preprocess.js';
import type { FileKey, JournalRecord } from './journal.js';
import { type Preprocessor, createPreprocessor } from './preprocess-pool.js';
import { RateMeter } from '../core/rate.js';
import { EtaSmoother } from './eta.js';
import { Semaphore, WakeSignal } from './sync.js';
import { type WalkItem, type WalkOptions, countInputs, walkInputs } from './walk.js';

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

export type BatchState = 'running' | 'paused' | 'cancelling' | 'finished' | 'cancelled' | 'failed';

export interface BatchProgress {
  state: BatchState;
  /** Images found so far by the counting walk; final once `totalFinal`. */
  total: number;
  totalFinal: boolean;
  /** Images with a result (classified or failed), including those done in earlier sessions. */
  done: number;
  /** Of `done`, how many failed. */
  failed: number;
  /** Of `done`, how many were already in the journal (resume). */
  resumed: number;
  /** Images per second over the last seconds of this session. */
  imagesPerSecond: number;
  /** Seconds left at the smoothed rate (eta.ts); null until that rate has settled, and while paused. */
  etaSeconds: number | null;
  elapsedSeconds: number;
  /** Paused, but the inference batch in flight is still finishing: its results are still to come ("Pausing…"). */
  pausing?: boolean;
}

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
  isDone?: (path: string, key: FileKey | null) => 'ok' | 'failed' | false;
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

/** Where the time went: whether inference (the intended bottleneck) was kept busy. */
export interface PipelineStats {
  batches: number;
  /** Images that went through inference. */
  inferred: number;
  /** Seconds inside the model's run(). */
  inferenceSeconds: number;
  /** Seconds the inference loop waited for decoded images (not counting pauses or the end). */
  starvedSeconds: number;
  /** Seconds from the first image admitted to the last result. */
  activeSeconds: number;
  /** Where preprocessing ran. */
  preprocessIn: 'workers' | 'main-thread';
}

export interface PipelineSummary {
  state: 'finished' | 'cancelled' | 'failed';
  progress: BatchProgress;
  stats: PipelineStats;
  error?: ErrorInfo;
}

interface Ready {
  item: WalkItem;
  key: FileKey;
  tensor?: Float32Array;
  ms: number;
  error?: Omit<ErrorInfo, 'item'>;
}

const NO_KEY: FileKey = { size: -1, mtimeMs: -1 };

/**
 * Preprocessing workers by default: half the cores (inference takes the rest; a large JPEG costs about
 * as much CPU to decode and resize as ResNet-50 takes to classify it), at least 2 so decoding overlaps
 * inference even on two cores, at most 8.
 */
export function defaultDecodeConcurrency(cores = os.availableParallelism()): number {
  return Math.max(2, Math.min(8, Math.floor(cores / 2)));
}

/** A file's resume key (size, mtime), or why it cannot be read. Shared with the queue coordinator. */
export async function fileKey(file: string): Promise<FileKey | Omit<ErrorInfo, 'item'>> {
  try {
    const info = await stat(file);
    return { size: info.size, mtimeMs: Math.round(info.mtimeMs) };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { code: ErrorCode.FILE_NOT_FOUND, message: 'file not found (it was moved or deleted during the run)' };
    if (code === 'ELOOP') return { code: ErrorCode.SYMLINK_LOOP, message: 'symbolic link loop' };
    return { code: ErrorCode.READ_FAILED, message: `cannot read: ${(error as Error).message}` };
  }
}

export class BatchPipeline {
  private stateValue: BatchState = 'running';
  private paused = false;
  private cancelled = false;
  private failure: ErrorInfo | undefined;
  private readonly ready: Ready[] = [];
  private readonly readySince: number[] = [];
  private decoding = 0;
  private producerDone = false;
  private readonly wake = new WakeSignal();
  private readonly unpause = new WakeSignal();
  private readonly slots: Semaphore;
  /** Images out for preprocessing: set when the preprocessor starts (deeper for workers, see there). */
  private decodeSlots: Semaphore | undefined;
  private readonly pool: Float32Array[] = [];
  private preprocessorReady: Promise<Preprocessor> | undefined;
  private readonly decoders: number;
  private readonly rate = new RateMeter();
  /** Time left from a settled, smoothed rate: no wild first estimate (issue 15). */
  private readonly eta = new EtaSmoother();
  /** Batches taken for inference whose results are not committed yet (pause drains them). */
  private inFlight = 0;
  private readonly started = performance.now();
  private readonly abortCount = new AbortController();
  private total = 0;
  private totalFinal = false;
  private processed = 0;
  private processedFailed = 0;
  private resumed = 0;
  private resumedFailed = 0;
  private lastProgressAt = -Infinity;
  private readonly statsValue: PipelineStats = { batches: 0, inferred: 0, inferenceSeconds: 0, starvedSeconds: 0, activeSeconds: 0, preprocessIn: 'workers' };
  private firstAdmitAt: number | undefined;
  private readonly batchSize: number;
  private readonly top: number;
  private readonly lingerMs: number;

  constructor(private readonly options: PipelineOptions) {
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

  get state(): BatchState {
    return this.stateValue;
  }

  progress(): BatchProgress {
    const done = this.processed + this.resumed;
    const total = this.totalFinal ? this.total : Math.max(this.total, done);
    return {
      state: this.stateValue,
      total,
      totalFinal: this.totalFinal,
      done,
      failed: this.processedFailed + this.resumedFailed,
      resumed: this.resumed,
      imagesPerSecond: Math.round(this.rate.rate() * 100) / 100,
      // While the walk is still counting, "time left" would be for the images found so far ("0 s" at the start): none yet.
      etaSeconds: this.stateValue === 'paused' || !this.totalFinal ? null : this.eta.eta(total - done),
      elapsedSeconds: Math.round((performance.now() - this.started) / 100) / 10,
      ...(this.stateValue === 'paused' && this.inFlight > 0 ? { pausing: true } : {}),
    };
  }

  pause(): void {
    if (this.stateValue !== 'running') return;
    this.paused = true;
    this.setState('paused');
  }

  resume(): void {
    if (this.stateValue !== 'paused') return;
    this.paused = false;
    this.rate.restart();
    this.eta.restart();
    this.setState('running');
    this.unpause.notify();
    this.wake.notify();
  }

  cancel(): void {
    if (this.cancelled || this.stateValue === 'finished' || this.stateValue === 'failed' || this.stateValue === 'cancelled') return;
    this.cancelled = true;
    this.paused = false;
    this.abortCount.abort();
    this.setState('cancelling');
    this.unpause.notify();
    this.wake.notify();
    this.slots.close();
    this.decodeSlots?.close();
  }

  async run(): Promise<PipelineSummary> {
    this.rate.restart();
    this.eta.restart();
    this.emitProgress(true);
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
      this.statsValue.preprocessIn = preprocessor.kind;
      // Workers get a full batch queued beyond one image each: inference blocks the main thread, so
      // whatever is not handed out before a run starts waits for it to end. On the main thread,
      // `decoders` at once (each holds a whole decoded image).
      this.decodeSlots = new Semaphore(preprocessor.kind === 'workers' ? this.decoders + this.batchSize : this.decoders);
      if (this.cancelled) this.decodeSlots.close();
      if (preprocessor.fallbackReason) this.options.onNotice?.(preprocessor.fallbackReason);
      return preprocessor;
    });
    return this.preprocessorReady;
  }

  private async runStages(): Promise<PipelineSummary> {
    const counting = countInputs(this.options.inputs, {
      ...this.options.walk,
      signal: this.abortCount.signal,
      onCount: ({ count, final }) => {
        this.total = count;
        this.totalFinal = final;
        this.emitProgress(false);
      },
    }).catch(() => undefined);
    const producer = this.produce().catch((error: unknown) => this.fail(error));
    try {
      await this.infer();
    } catch (error) {
      this.fail(error);
    }
    // Stop the producer if inference ended early (cancel or failure) and let running decodes settle.
    if (this.cancelled || this.failure) {
      this.abortCount.abort();
      this.slots.close();
      this.decodeSlots?.close();
    }
    await producer;
    while (this.decoding > 0) await this.wake.wait(50);
    await counting;
    if (!this.cancelled && !this.failure) {
      // The count walk and the real walk can disagree when files come and go mid-run.
      this.total = this.processed + this.resumed;
      this.totalFinal = true;
    }
    this.setState(this.failure ? 'failed' : this.cancelled ? 'cancelled' : 'finished');
    return {
      state: this.stateValue as PipelineSummary['state'],
      progress: this.progress(),
      stats: this.stats(),
      ...(this.failure ? { error: this.failure } : {}),
    };
  }

  stats(): PipelineStats {
    const r = (n: number) => Math.round(n * 1000) / 1000;
    const s = this.statsValue;
    return { ...s, inferenceSeconds: r(s.inferenceSeconds), starvedSeconds: r(s.starvedSeconds), activeSeconds: r(s.activeSeconds) };
  }

  private fail(error: unknown): void {
    this.failure ??= toErrorInfo(error, ErrorCode.INFERENCE_FAILED);
    this.cancelled = true;
    this.abortCount.abort();
    this.unpause.notify();
    this.wake.notify();
    this.slots.close();
    this.decodeSlots?.close();
  }

  private setState(state: BatchState): void {
    if (this.stateValue === state) return;
    this.stateValue = state;
    this.emitProgress(true);
  }

  private emitProgress(force: boolean): void {
    const now = performance.now();
    if (!force && now - this.lastProgressAt < (this.options.progressIntervalMs ?? 250)) return;
    this.lastProgressAt = now;
    this.options.onProgress?.(this.progress());
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
        while (this.paused && !this.cancelled) await this.unpause.wait();
        if (this.cancelled) break;
        if ('error' in item) {
          const done = this.options.isDone?.(item.path, NO_KEY);
          if (done) {
            this.countResumed(done === 'failed');
            continue;
          }
          await this.slots.acquire();
          if (this.cancelled) break;
          this.pushReady({ item, key: NO_KEY, ms: 0, error: { code: item.error.code, message: item.error.message } });
          continue;
        }
        const key = await fileKey(item.path);
        if ('code' in key) {
          if (this.options.isDone?.(item.path, null) === 'ok') {
            this.countResumed(false);
            continue;
          }
          await this.slots.acquire();
          if (this.cancelled) break;
          this.pushReady({ item, key: NO_KEY, ms: 0, error: key });
          continue;
        }
        const done = this.options.isDone?.(item.path, key);
        if (done) {
          this.countResumed(done === 'failed');
          continue;
        }
        await this.slots.acquire();
        if (this.cancelled) break;
        const preprocessor = await this.preprocessor();
        await (this.decodeSlots as Semaphore).acquire();
        if (this.cancelled) break;
        this.decoding++;
        this.firstAdmitAt ??= performance.now();
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

  private countResumed(failed: boolean): void {
    this.resumed++;
    if (failed) this.resumedFailed++;
    this.emitProgress(false);
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
      if (this.cancelled) break;
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
        if (this.firstAdmitAt !== undefined && !this.paused && this.decoding > 0)
          this.statsValue.starvedSeconds += (performance.now() - Math.max(waitStart, this.firstAdmitAt)) / 1000;
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
          this.statsValue.batches++;
          this.statsValue.inferred += count;
          this.statsValue.inferenceSeconds += (performance.now() - runStart) / 1000;
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
          let failed = 0;
          for (const r of records) if ('error' in r.result) failed++;
          this.processed += records.length;
          this.processedFailed += failed;
          this.rate.add(records.length);
          this.eta.add(records.length);
          if (this.firstAdmitAt !== undefined) this.statsValue.activeSeconds = (performance.now() - this.firstAdmitAt) / 1000;
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
