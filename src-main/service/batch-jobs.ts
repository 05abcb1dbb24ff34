// Batch runs for the UI: one engine batch (journal, pipeline, export) per folder the user picked,
// results kept as compact rows for the results table and streamed as events.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, realpath, rm } from 'node:fs/promises';
import path from 'node:path';
import type { BatchId, BatchRow, BatchSummary, EngineEvents, EventName, RequestResults } from '../api/contract.js';
import { exportJournal } from '../engine/batch/export.js';
import { organizeJournal, organizeSummary } from '../engine/batch/organize-journal.js';
import type { BatchProgress } from '../engine/batch/pipeline.js';
import { type BatchJob, startBatch } from '../engine/batch/run.js';
import { EngineError, ErrorCode } from '../engine/errors.js';
import { isInside, refuseDestOverInputs } from '../engine/batch/containment.js';
import { createRunDir } from '../engine/temp-dirs.js';
import type { ClassifyResult } from '../engine/infer/classify-files.js';
import type { Classifier } from '../engine/infer/classifier.js';
import { startQueueBatch } from '../engine/queue/batch.js';
import type { QueueProgress } from '../engine/queue/coordinator.js';
import { remoteModelOf } from '../engine/queue/remote-model.js';

interface Job {
  id: BatchId;
  folder: string;
  realFolder: string;
  engine: BatchJob;
  classifier: Classifier;
  rows: BatchRow[];
  labels: readonly string[];
  outcome?: 'done' | 'cancelled' | 'failed';
  last: BatchProgress;
  /** Runs on queue workers (docs/queue.md). */
  onWorkers: boolean;
}

const toRow = (result: ClassifyResult): BatchRow => {
  const worker = result.worker === undefined ? {} : { worker: result.worker };
  return 'error' in result ? { path: result.path, error: result.error, ...worker } : { path: result.path, top: result.top, ep: result.ep, ms: result.ms, ...worker };
};

/** Batches running at once per host: each already uses every decode worker and the whole model. */
export const MAX_RUNNING_BATCHES = 2;

export interface BatchJobsOptions {
  /** Where the private per-run folder for journals and exports is created (default: the OS temp dir). */
  tempBase?: string;
  /** When set (browser mode's --root), every walked path must resolve (realpath) under this folder. */
  within?: string;
}

export class BatchJobs {
  private readonly jobs = new Map<BatchId, Job>();
  /** Folders whose batch.start is between its checks and its registration. */
  private readonly starting = new Set<string>();
  private workDirReady?: Promise<string>;

  constructor(
    private readonly options: BatchJobsOptions,
    private readonly emit: <E extends EventName>(event: E, payload: EngineEvents[E]) => void,
  ) {}

  /** The UI's private working folder (mkdtemp, 0700), created on first use and never reused. */
  private workDir(): Promise<string> {
    this.workDirReady ??= (async () => {
      if (this.options.tempBase) await mkdir(this.options.tempBase, { recursive: true });
      return createRunDir('batches', this.options.tempBase);
    })();
    return this.workDirReady;
  }

  /** `queue`: a Redis URL to run the batch on `reslens worker` processes instead of here. */
  async start(classifier: Classifier, folder: string, options: { top?: number; exact?: boolean; queue?: string }): Promise<BatchSummary> {
    // Checked and reserved before the first await: ten batch.start at once must not all pass the check.
    const lexical = path.resolve(folder);
    const running = [...this.jobs.values()].filter((job) => !job.outcome);
    const busy = (what: string) => new EngineError(ErrorCode.BUSY, `a batch on ${path.basename(folder) || folder} is already ${what}: find it with batch.list`, { item: folder });
    if (this.starting.has(lexical) || running.some((job) => path.resolve(job.folder) === lexical)) throw busy('running');
    if (running.length + this.starting.size >= MAX_RUNNING_BATCHES) throw new EngineError(ErrorCode.BUSY, `${MAX_RUNNING_BATCHES} batches are already running; wait for one to finish or cancel one`);
    this.starting.add(lexical);
    try {
      return await this.startReserved(classifier, folder, options, running);
    } finally {
      this.starting.delete(lexical);
    }
  }

  private async startReserved(classifier: Classifier, folder: string, options: { top?: number; exact?: boolean; queue?: string }, running: Job[]): Promise<BatchSummary> {
    const real = await realpath(folder).catch(() => folder);
    const same = running.find((job) => job.realFolder === real);
    if (same) throw new EngineError(ErrorCode.BUSY, `a batch on ${path.basename(folder) || folder} is already running (${same.id}): find it with batch.list`, { item: folder });
    const id = `batch_${randomBytes(9).toString('base64url')}` as BatchId;
    const workDir = await this.workDir();
    // The UI's own working files: a .jsonl export that grows with the run, and its journal beside it.
    const common = {
      inputs: [folder],
      out: path.join(workDir, `${id}.jsonl`),
      top: options.top ?? 5,
      mode: options.exact ? ('exact' as const) : ('fast' as const),
      ...(this.options.within ? { walk: { within: this.options.within } } : {}),
    };
    const engine = options.queue ? await startQueueBatch({ ...common, model: remoteModelOf(classifier), queue: { url: options.queue } }) : await startBatch({ ...common, classifier });
    const job: Job = { id, folder, realFolder: real, engine, classifier, rows: [], labels: classifier.labels, last: engine.progress(), onWorkers: options.queue !== undefined };
    this.jobs.set(id, job);
    engine.on((event) => {
      if (event.type === 'progress') {
        job.last = event.progress;
        this.emit('batch.progress', this.summary(job));
      } else if (event.type === 'results') {
        const offset = job.rows.length;
        const rows = event.results.map(toRow);
        job.rows.push(...rows);
        this.emit('batch.rows', { batch: id, offset, rows });
      }
    });
    void engine.done.then(
      (summary) => {
        job.outcome = summary.state === 'finished' ? 'done' : summary.state;
        job.last = summary.progress;
        this.emit('batch.progress', this.summary(job));
      },
      () => {
        job.outcome = 'failed';
        this.emit('batch.progress', this.summary(job));
      },
    );
    return this.summary(job);
  }

  /**
   * Pause, resume or cancel. The answer is the state after the action took effect: a cancel resolves
   * once the run has stopped (after the inference batch in flight), so it answers "cancelled", never "running".
   */
  async control(id: BatchId, action: 'pause' | 'resume' | 'cancel'): Promise<BatchSummary> {
    const job = this.job(id);
    if (!job.outcome) {
      if (action === 'pause') job.engine.pause();
      else if (action === 'resume') job.engine.resume();
      else {
        job.engine.cancel();
        await this.settled(job);
      }
      if (!job.outcome) job.last = job.engine.progress();
    }
    return this.summary(job);
  }

  /** Every batch this host knows (a reloaded page finds its runs here), newest first. */
  list(): BatchSummary[] {
    return [...this.jobs.values()].reverse().map((job) => this.summary(job));
  }

  private async settled(job: Job): Promise<void> {
    const summary = await job.engine.done.catch(() => undefined);
    if (job.outcome) return;
    job.outcome = summary ? (summary.state === 'finished' ? 'done' : summary.state) : 'failed';
    if (summary) job.last = summary.progress;
  }

  rows(id: BatchId, offset: number, limit: number): RequestResults['batch.rows'] {
    const job = this.job(id);
    return { rows: job.rows.slice(offset, offset + limit), total: job.rows.length };
  }

  /** The results so far (or all of them) in the asked format, as bytes for the host to save. */
  async export(id: BatchId, format: 'csv' | 'json' | 'jsonl'): Promise<RequestResults['batch.export']> {
    const job = this.job(id);
    const file = path.join(await this.workDir(), `${id}-export.${format}`);
    try {
      await exportJournal(job.engine.journalFile, file, { worker: job.onWorkers });
      const data = await readFile(file);
      return { fileName: `reslens-${path.basename(job.folder) || 'batch'}.${format}`, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
    } finally {
      await rm(file, { force: true });
    }
  }

  /** Copies (or hard-links) the classified originals into destination/<label>/; originals are never moved. */
  async organize(id: BatchId, destination: string, options: { minProb: number; mode: 'copy' | 'link'; dryRun: boolean }): Promise<RequestResults['batch.organize']> {
    const job = this.job(id);
    await refuseDestOverInputs(destination, [job.folder]);
    // The engine's organise, the same call `reslens batch --organize` makes (a preview is its dry run).
    const within = this.options.within;
    const report = await organizeJournal(
      job.engine.journalFile,
      { dest: destination, minProb: options.minProb, mode: options.mode === 'copy' ? 'copy' : 'hardlink', dryRun: options.dryRun, labels: job.labels },
      { inputs: [job.folder], ...(within ? { allow: (file: string) => isInside(file, within, { real: true }) } : {}) },
    );
    const failures = report.failures.map((a) => ({ path: a.path, folder: a.folder, error: { code: a.error?.code ?? ErrorCode.INTERNAL, message: a.error?.message ?? 'failed' } }));
    return { ...organizeSummary(report), folders: report.folders, unclassified: report.unclassified, failures, destination };
  }

  summary(job: Job): BatchSummary {
    const p = job.last;
    const state: BatchSummary['state'] = job.outcome ?? (p.state === 'paused' ? 'paused' : 'running');
    return {
      batch: job.id,
      folder: job.folder,
      state,
      done: p.done,
      failed: p.failed,
      total: p.totalFinal ? p.total : null,
      imagesPerSecond: p.imagesPerSecond,
      etaSeconds: p.etaSeconds,
      ...(job.onWorkers ? { workers: (p as Partial<QueueProgress>).workers ?? [] } : {}),
    };
  }

  private job(id: BatchId): Job {
    const job = this.jobs.get(id);
    if (!job) throw new EngineError(ErrorCode.INVALID_ARGUMENT, `unknown batch ${id}`);
    return job;
  }

  /** Resolves when no running batch uses `classifier` (so a replaced model is released only then). */
  async idle(classifier: Classifier): Promise<void> {
    const running = [...this.jobs.values()].filter((job) => job.classifier === classifier && !job.outcome);
    await Promise.allSettled(running.map((job) => job.engine.done));
  }

  cancelAll(): void {
    for (const job of this.jobs.values()) if (!job.outcome) job.engine.cancel();
  }

  /** Cancels every run, waits for them to stop, and removes the working folder. */
  async dispose(): Promise<void> {
    this.cancelAll();
    await Promise.allSettled([...this.jobs.values()].map((job) => job.engine.done));
    const dir = this.workDirReady ? await this.workDirReady.catch(() => undefined) : undefined;
    this.workDirReady = undefined;
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}
