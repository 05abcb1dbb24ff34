// The control and the bookkeeping of one batch run, whoever classifies its images: the local
// pipeline (pipeline.ts) and the queue coordinator (engine/queue/coordinator.ts) both extend it, so
// what a host drives (pause, resume, cancel, progress, state) is one piece of code.
//
//   pause() ──▶ 'paused'      the runner starts no new work; work already out still delivers
//   resume() ──▶ 'running'    rate and time left start over (time paused is not a rate)
//   cancel() ──▶ 'cancelling' the runner stops within its unit of work (a batch, the chunks out)
//   fail(e)                   the first failure is kept; the runner stops as for a cancel
//   finish() ──▶ 'finished' | 'cancelled' | 'failed', with the summary
//
// Besides the state: the admit step both runners share (stat, resume check: what is done already is
// counted, not read), the count walk behind `total`, the counters of committed results, rate and time
// left, the progress events (at most every `progressIntervalMs`, plus one per state change and one
// per commit the runner asks for) and the stats' common parts. What classifies, and how work is held
// back while paused (semaphores, a window of chunks), stays with each runner: onWake() tells it to
// look at the state again, onStop() to let go of whatever waits for capacity, describe() adds its
// own fields to the progress.
import { stat } from 'node:fs/promises';
import { type ErrorInfo, toErrorInfo } from '../core/errors.js';
import type { WalkItem } from '../core/files.js';
import { RateMeter } from '../core/rate.js';
import { ErrorCode } from '../core/vocabulary.js';
import { EtaSmoother } from './eta.js';
import type { FileKey, JournalRecord } from './journal.js';
import { WakeSignal } from './sync.js';
import { type WalkOptions, countInputs } from './walk.js';

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
  /** Seconds left at the smoothed rate (eta.ts); null until that rate has settled, while the walk still counts, and while paused. */
  etaSeconds: number | null;
  elapsedSeconds: number;
  /** Paused, but the inference batch in flight is still finishing: its results are still to come ("Pausing…"). */
  pausing?: boolean;
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

/** Whether a file is done already (resume): see PipelineOptions.isDone. */
export type IsDone = (path: string, key: FileKey | null) => 'ok' | 'failed' | false;

/** An image the run must give a result for: with its resume key, or the reason it cannot be read. */
export interface Admitted {
  key: FileKey;
  error?: Omit<ErrorInfo, 'item'>;
}

export interface RunControlSettings<P extends BatchProgress> {
  /** The code a failure without its own code gets (what stopping means for this runner). */
  failureCode: ErrorCode;
  onProgress?: (progress: P) => void;
  /** Progress events at most this often (default 250 ms), plus one per state change and forced ones. */
  progressIntervalMs?: number;
}

/** The key of an item the walk could not read: it is never "the same file" as a later one. */
export const NO_KEY: FileKey = { size: -1, mtimeMs: -1 };

/** A file's resume key (size, mtime), or why it cannot be read. */
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

export abstract class RunControl<P extends BatchProgress = BatchProgress> {
  private stateValue: BatchState = 'running';
  private pausedValue = false;
  private stoppingValue = false;
  private failureValue: ErrorInfo | undefined;
  /** Wakes producers waiting out a pause (waitWhilePaused). */
  private readonly unpause = new WakeSignal();
  private readonly rate = new RateMeter();
  /** Time left from a settled, smoothed rate: no wild first estimate (issue 15). */
  private readonly eta = new EtaSmoother();
  private readonly started = performance.now();
  private readonly abortCount = new AbortController();
  private total = 0;
  private totalFinal = false;
  private processed = 0;
  private processedFailed = 0;
  private resumed = 0;
  private resumedFailed = 0;
  private lastProgressAt = -Infinity;
  private firstAdmitAt: number | undefined;
  /** The runner adds its batches, inferred images and inference time here; activeSeconds is kept by countCommitted(). */
  protected readonly stats: PipelineStats = { batches: 0, inferred: 0, inferenceSeconds: 0, starvedSeconds: 0, activeSeconds: 0, preprocessIn: 'workers' };

  constructor(private readonly runSettings: RunControlSettings<P>) {}

  /** Runs to the end (finished, cancelled or failed); the summary comes from finish(). */
  abstract run(): Promise<PipelineSummary>;

  /** The runner's own fields on top of the common progress (the queue's workers, the pipeline's "pausing"). */
  protected describe(progress: BatchProgress): P {
    return progress as P;
  }

  /** Resumed, cancelled or failed: the runner's loops must look at the state again. */
  protected onWake(): void {}

  /** Cancelled or failed: release whatever waits for capacity. */
  protected onStop(): void {}

  get state(): BatchState {
    return this.stateValue;
  }

  /** Paused by the user (until resume or cancel). */
  protected get paused(): boolean {
    return this.pausedValue;
  }

  /** Cancelled or failed: the runner starts nothing new and winds down. */
  protected get stopping(): boolean {
    return this.stoppingValue;
  }

  protected get failure(): ErrorInfo | undefined {
    return this.failureValue;
  }

  /** When the first image was admitted for work (undefined before): the start of activeSeconds. */
  protected get firstAdmittedAt(): number | undefined {
    return this.firstAdmitAt;
  }

  /** Processed in this session (classified or failed), not counting resumed ones. */
  protected get processedCount(): number {
    return this.processed;
  }

  progress(): P {
    const done = this.processed + this.resumed;
    const total = this.totalFinal ? this.total : Math.max(this.total, done);
    const progress: BatchProgress = {
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
    };
    return this.describe(progress);
  }

  pause(): void {
    if (this.stateValue !== 'running') return;
    this.pausedValue = true;
    this.setState('paused');
  }

  resume(): void {
    if (this.stateValue !== 'paused') return;
    this.pausedValue = false;
    this.rate.restart();
    this.eta.restart();
    this.setState('running');
    this.unpause.notify();
    this.onWake();
  }

  cancel(): void {
    if (this.stoppingValue || this.stateValue === 'finished' || this.stateValue === 'failed' || this.stateValue === 'cancelled') return;
    this.stoppingValue = true;
    this.pausedValue = false;
    this.abortCount.abort();
    this.setState('cancelling');
    this.wakeAndStop();
  }

  /** Keeps the first failure and stops the run (its state says 'failed' once finish() is called). */
  protected fail(error: unknown): void {
    this.failureValue ??= toErrorInfo(error, this.runSettings.failureCode);
    this.stoppingValue = true;
    this.abortCount.abort();
    this.wakeAndStop();
  }

  /** Starts the walk that counts the images (for `total`), ahead of the real one; stopped by cancel, fail or stopCounting. */
  protected startCounting(inputs: readonly string[], walk: WalkOptions | undefined): Promise<void> {
    return countInputs(inputs, {
      ...walk,
      signal: this.abortCount.signal,
      onCount: ({ count, final }) => {
        this.total = count;
        this.totalFinal = final;
        this.emitProgress(false);
      },
    }).then(
      () => undefined,
      () => undefined,
    );
  }

  protected stopCounting(): void {
    this.abortCount.abort();
  }

  /** Returns once not paused, or once stopping (the caller checks `stopping`). */
  protected async waitWhilePaused(): Promise<void> {
    while (this.pausedValue && !this.stoppingValue) await this.unpause.wait();
  }

  /**
   * The admit step: undefined for a file done already (counted as resumed, not read), else its key
   * and, for an item that cannot be read, why (it gets an error result like any other).
   */
  protected async admit(item: WalkItem, isDone: IsDone | undefined): Promise<Admitted | undefined> {
    if ('error' in item) {
      const done = isDone?.(item.path, NO_KEY);
      if (done) return this.countResumed(done === 'failed');
      return { key: NO_KEY, error: { code: item.error.code, message: item.error.message } };
    }
    const key = await fileKey(item.path);
    if ('code' in key) {
      // Vanished between the walk and its stat: an earlier success stands.
      if (isDone?.(item.path, null) === 'ok') return this.countResumed(false);
      return { key: NO_KEY, error: key };
    }
    const done = isDone?.(item.path, key);
    if (done) return this.countResumed(done === 'failed');
    return { key };
  }

  /** The first image went out for work: activeSeconds counts from here. */
  protected markAdmitted(): void {
    this.firstAdmitAt ??= performance.now();
  }

  /** Counts committed records (classified or failed) into done, rate and time left; returns how many failed. */
  protected countCommitted(records: readonly JournalRecord[]): number {
    let failed = 0;
    for (const r of records) if ('error' in r.result) failed++;
    this.processed += records.length;
    this.processedFailed += failed;
    this.rate.add(records.length);
    this.eta.add(records.length);
    if (this.firstAdmitAt !== undefined) this.stats.activeSeconds = (performance.now() - this.firstAdmitAt) / 1000;
    return failed;
  }

  /** A progress event: always when forced, else at most every `progressIntervalMs`. */
  protected emitProgress(force: boolean): void {
    const now = performance.now();
    if (!force && now - this.lastProgressAt < (this.runSettings.progressIntervalMs ?? 250)) return;
    this.lastProgressAt = now;
    this.runSettings.onProgress?.(this.progress());
  }

  /** The run is starting: rate and time left count from now, and the first progress event goes out. */
  protected start(): void {
    this.rate.restart();
    this.eta.restart();
    this.emitProgress(true);
  }

  /** The run's end: a completed run's total is what it did (files come and go mid-run), then the final state and summary. */
  protected finish(): PipelineSummary {
    if (!this.stoppingValue) {
      // The count walk and the real walk can disagree when files come and go mid-run.
      this.total = this.processed + this.resumed;
      this.totalFinal = true;
    }
    this.setState(this.failureValue ? 'failed' : this.stoppingValue ? 'cancelled' : 'finished');
    const r = (n: number) => Math.round(n * 1000) / 1000;
    const s = this.stats;
    return {
      state: this.stateValue as PipelineSummary['state'],
      progress: this.progress(),
      stats: { ...s, inferenceSeconds: r(s.inferenceSeconds), starvedSeconds: r(s.starvedSeconds), activeSeconds: r(s.activeSeconds) },
      ...(this.failureValue ? { error: this.failureValue } : {}),
    };
  }

  private countResumed(failed: boolean): undefined {
    this.resumed++;
    if (failed) this.resumedFailed++;
    this.emitProgress(false);
    return undefined;
  }

  private wakeAndStop(): void {
    this.unpause.notify();
    this.onWake();
    this.onStop();
  }

  private setState(state: BatchState): void {
    if (this.stateValue === state) return;
    this.stateValue = state;
    this.emitProgress(true);
  }
}
