// Batch runs for the UI: one engine batch (journal, pipeline, export) per folder the user picked,
// results kept as compact rows for the results table and streamed as events.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, realpath, rm } from 'node:fs/promises';
import path from 'node:path';
import type { BatchId, BatchRow, BatchSummary, EngineEvents, EventName, RequestResults } from '../api/contract.js';
import { exportJournal } from '../engine/batch/export.js';
import { JOURNAL_SUFFIX, journalPathFor } from '../engine/batch/journal.js';
import { organizeJournal, organizeSummary } from '../engine/batch/organize-journal.js';
import type { BatchProgress } from '../engine/batch/pipeline.js';
import { type BatchJob, startBatch } from '../engine/batch/run.js';
import { EngineError } from '../engine/core/errors.js';
import { ErrorCode } from '../engine/core/vocabulary.js';
import { isInside, refuseDestOverInputs } from '../engine/batch/containment.js';
import { createRunDir } from '../engine/core/temp-dirs.js';
import type { ClassifyResult } from '../engine/infer/classify-files.js';
import type { Classifier } from '../engine/infer/classifier.js';
import { startQueueBatch } from '../engine/queue/batch.js';
import type { QueueProgress } from '../engine/queue/coordinator.js';
import { remoteModelOf } from '../engine/queue/remote-model.js';
import type { SessionEntry, SessionIndex } from '../engine/sessions/session-index.js';
import { readRunRows } from '../engine/sessions/run-rows.js';

interface Job {
  id: BatchId;
  folder: string;
  realFolder: string;
  /** Absent for a run reopened from the session index that has not been resumed. */
  engine?: BatchJob;
  /** The run's journal (kept in the data folder when sessions are on). */
  journalFile: string;
  /** Absent for a reopened run (its model may not be loaded). */
  classifier?: Classifier;
  rows: BatchRow[];
  labels: readonly string[];
  outcome?: 'done' | 'cancelled' | 'failed';
  last: BatchProgress;
  /** Runs on queue workers (docs/queue.md). */
  onWorkers: boolean;
  /** For the session index: when it started, with which model and options. */
  created: string;
  model: string;
  top: number;
  mode: 'fast' | 'exact';
}

const toRow = (result: ClassifyResult): BatchRow => {
  const worker = result.worker === undefined ? {} : { worker: result.worker };
  return 'error' in result
    ? { path: result.path, error: result.error, ...worker }
    : { path: result.path, top: result.top, ep: result.ep, ms: result.ms, ...worker };
};

/** Batches running at once per host: each already uses every decode worker and the whole model. */
export const MAX_RUNNING_BATCHES = 2;

export interface BatchJobsOptions {
  /** Where the private per-run folder for journals and exports is created (default: the OS temp dir). */
  tempBase?: string;
  /** When set (browser mode's --root), every walked path must resolve (realpath) under this folder. */
  within?: string;
  /** Keeps every run (journal in the data folder, listed in the index) so a reload or restart finds it. */
  sessions?: SessionIndex;
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
    const busy = (what: string) =>
      new EngineError(ErrorCode.BUSY, `a batch on ${path.basename(folder) || folder} is already ${what}: find it with batch.list`, { item: folder });
    if (this.starting.has(lexical) || running.some((job) => path.resolve(job.folder) === lexical)) throw busy('running');
    if (running.length + this.starting.size >= MAX_RUNNING_BATCHES)
      throw new EngineError(ErrorCode.BUSY, `${MAX_RUNNING_BATCHES} batches are already running; wait for one to finish or cancel one`);
    this.starting.add(lexical);
    try {
      return await this.startReserved(classifier, folder, options, running);
    } finally {
      this.starting.delete(lexical);
    }
  }

  private async startReserved(
    classifier: Classifier,
    folder: string,
    options: { top?: number; exact?: boolean; queue?: string },
    running: Job[],
  ): Promise<BatchSummary> {
    const real = await realpath(folder).catch(() => folder);
    const same = running.find((job) => job.realFolder === real);
    if (same)
      throw new EngineError(ErrorCode.BUSY, `a batch on ${path.basename(folder) || folder} is already running (${same.id}): find it with batch.list`, {
        item: folder,
      });
    const id = `batch_${randomBytes(9).toString('base64url')}` as BatchId;
    const workDir = await this.runDir(id);
    // The UI's own working files: a .jsonl export that grows with the run, and its journal beside it.
    const common = {
      inputs: [folder],
      out: path.join(workDir, `${id}.jsonl`),
      top: options.top ?? 5,
      mode: options.exact ? ('exact' as const) : ('fast' as const),
      ...(this.options.within ? { walk: { within: this.options.within } } : {}),
    };
    const engine = options.queue
      ? await startQueueBatch({ ...common, model: remoteModelOf(classifier), queue: { url: options.queue } })
      : await startBatch({ ...common, classifier });
    const job: Job = {
      id,
      folder,
      realFolder: real,
      engine,
      journalFile: engine.journalFile,
      classifier,
      rows: [],
      labels: classifier.labels,
      last: engine.progress(),
      onWorkers: options.queue !== undefined,
      created: new Date().toISOString(),
      model: classifier.name,
      top: common.top,
      mode: common.mode,
    };
    this.jobs.set(id, job);
    this.follow(job, engine);
    return this.summary(job);
  }

  /** Streams a running engine batch's events to the UI and keeps the session index in step. */
  private follow(job: Job, engine: BatchJob): void {
    const id = job.id;
    void this.remember(job);
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
        if (job.engine !== engine) return;
        job.outcome = summary.state === 'finished' ? 'done' : summary.state;
        job.last = summary.progress;
        this.emit('batch.progress', this.summary(job));
        void this.remember(job);
      },
      () => {
        if (job.engine !== engine) return;
        job.outcome = 'failed';
        this.emit('batch.progress', this.summary(job));
        void this.remember(job);
      },
    );
  }

  /**
   * Pause, resume or cancel. The answer is the state after the action took effect: a cancel resolves
   * once the run has stopped (after the inference batch in flight), so it answers "cancelled", never "running".
   */
  async control(id: BatchId, action: 'pause' | 'resume' | 'cancel'): Promise<BatchSummary> {
    const job = this.job(id);
    if (!job.outcome && job.engine) {
      if (action === 'pause') job.engine.pause();
      else if (action === 'resume') job.engine.resume();
      else {
        job.engine.cancel();
        await this.settled(job);
      }
      if (!job.outcome) job.last = job.engine.progress();
      void this.remember(job);
    }
    return this.summary(job);
  }

  /** Every batch this host knows (a reloaded page finds its runs here), newest first. */
  list(): BatchSummary[] {
    return [...this.jobs.values()].reverse().map((job) => this.summary(job));
  }

  private async settled(job: Job): Promise<void> {
    const summary = await job.engine?.done.catch(() => undefined);
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
      await exportJournal(job.journalFile, file, { worker: job.onWorkers });
      const data = await readFile(file);
      return { fileName: `reslens-${path.basename(job.folder) || 'batch'}.${format}`, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
    } finally {
      await rm(file, { force: true });
    }
  }

  /** Copies (or hard-links) the classified originals into destination/<label>/; originals are never moved. */
  async organize(
    id: BatchId,
    destination: string,
    options: { minProb: number; mode: 'copy' | 'link'; dryRun: boolean },
  ): Promise<RequestResults['batch.organize']> {
    const job = this.job(id);
    await refuseDestOverInputs(destination, [job.folder]);
    // The engine's organise, the same call `reslens batch --organize` makes (a preview is its dry run).
    const within = this.options.within;
    const report = await organizeJournal(
      job.journalFile,
      { dest: destination, minProb: options.minProb, mode: options.mode === 'copy' ? 'copy' : 'hardlink', dryRun: options.dryRun, labels: job.labels },
      { inputs: [job.folder], ...(within ? { allow: (file: string) => isInside(file, within, { real: true }) } : {}) },
    );
    const failures = report.failures.map((a) => ({
      path: a.path,
      folder: a.folder,
      error: { code: a.error?.code ?? ErrorCode.INTERNAL, message: a.error?.message ?? 'failed' },
    }));
    return { ...organizeSummary(report), folders: report.folders, unclassified: report.unclassified, failures, destination };
  }

  /** Where a run's journal and export go: its own folder in the data folder (kept), or the private temp folder. */
  private async runDir(id: BatchId): Promise<string> {
    const sessions = this.options.sessions;
    if (!sessions) return this.workDir();
    const dir = sessions.runDir(id);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  private writes = new Set<Promise<void>>();

  /** Writes the run's entry to the session index (a failure is logged, never fatal: the run goes on). */
  private remember(job: Job): Promise<void> {
    const sessions = this.options.sessions;
    if (!sessions) return Promise.resolve();
    const s = this.summary(job);
    const entry: SessionEntry = {
      id: job.id,
      kind: 'batch',
      folder: job.folder,
      created: job.created,
      updated: new Date().toISOString(),
      model: job.model,
      top: job.top,
      mode: job.mode,
      state: s.state,
      done: s.done,
      failed: s.failed,
      total: s.total,
    };
    const write = sessions.put(entry).catch((error: unknown) => {
      process.stderr.write(`sessions: could not record ${job.id}: ${error instanceof Error ? error.message : String(error)}\n`);
    });
    this.writes.add(write);
    void write.finally(() => this.writes.delete(write));
    return write;
  }

  /** The kept runs (newest first) with any note about the index, for the History list. */
  async sessions(): Promise<{ sessions: (SessionEntry & { live: boolean })[]; notice: string | null }> {
    const index = this.options.sessions;
    if (!index) return { sessions: [], notice: null };
    const kept = await index.list();
    const listed = kept.map((entry) => {
      const job = this.jobs.get(entry.id as BatchId);
      // An entry that says "running" with no run behind it was cut short (the app closed or crashed).
      const state = job ? this.summary(job).state : entry.state === 'running' || entry.state === 'paused' ? 'cancelled' : entry.state;
      return { ...entry, state, live: !!job && !job.outcome };
    });
    return { sessions: listed, notice: index.notice };
  }

  /**
   * Reopens a kept run: its rows come back from its journal (batch.rows pages them as for a live
   * run), and export, organise, resume and retry work on it. A run this host still has is returned as is.
   */
  async open(id: BatchId, labels: readonly string[] | undefined): Promise<BatchSummary> {
    const live = this.jobs.get(id);
    if (live) return this.summary(live);
    const index = this.options.sessions;
    const entry = index ? await index.get(id) : undefined;
    if (!index || !entry) throw new EngineError(ErrorCode.INVALID_ARGUMENT, `unknown batch ${id}: it is not in the session list`);
    const journalFile = journalPathFor(path.join(index.runDir(id), `${id}.jsonl`));
    const { results, state } = await readRunRows(journalFile, entry.folder);
    const failed = results.filter((r) => 'error' in r).length;
    const job: Job = {
      id,
      folder: entry.folder,
      realFolder: await realpath(entry.folder).catch(() => entry.folder),
      journalFile,
      rows: results.map(toRow),
      // Organise names folders by label: the journal's own labels (the run's model may not be loaded now).
      labels: labels ?? [],
      outcome: entry.state === 'done' && state.finished ? 'done' : entry.state === 'failed' ? 'failed' : 'cancelled',
      last: {
        state: 'finished',
        total: results.length,
        totalFinal: true,
        done: results.length,
        failed,
        resumed: 0,
        imagesPerSecond: 0,
        etaSeconds: null,
        elapsedSeconds: 0,
      } as BatchProgress,
      onWorkers: false,
      created: entry.created,
      model: entry.model,
      top: entry.top,
      mode: entry.mode,
    };
    this.jobs.set(id, job);
    return this.summary(job);
  }

  /**
   * Continues a kept run on the same journal: files already classified (same path, size, mtime) are
   * skipped, new files are classified ("only new files"); with `retryFailed` the failed ones are tried again.
   * The loaded model must be the run's (the journal refuses another and says which).
   */
  async resume(id: BatchId, classifier: Classifier, options: { retryFailed: boolean }): Promise<BatchSummary> {
    if (!this.jobs.has(id)) await this.open(id, classifier.labels);
    const job = this.job(id);
    if (!job.outcome)
      throw new EngineError(ErrorCode.BUSY, `the batch on ${path.basename(job.folder) || job.folder} is still running: pause or cancel it first`);
    const running = [...this.jobs.values()].filter((j) => !j.outcome);
    if (running.some((j) => j.realFolder === job.realFolder))
      throw new EngineError(ErrorCode.BUSY, `a batch on ${path.basename(job.folder) || job.folder} is already running`);
    if (running.length >= MAX_RUNNING_BATCHES)
      throw new EngineError(ErrorCode.BUSY, `${MAX_RUNNING_BATCHES} batches are already running; wait for one to finish or cancel one`);
    const outFile = job.journalFile.slice(0, -JOURNAL_SUFFIX.length);
    // Rows that stay: the resume redoes the rest, and their new results append after these.
    const kept = await readRunRows(job.journalFile, job.folder, { forResume: options });
    job.outcome = undefined; // reserved before the next await: a second resume is refused above
    try {
      const engine = await startBatch({
        inputs: [job.folder],
        out: outFile,
        journal: job.journalFile,
        resume: true,
        retryFailed: options.retryFailed,
        classifier,
        top: job.top,
        mode: job.mode,
        ...(this.options.within ? { walk: { within: this.options.within } } : {}),
      });
      job.engine = engine;
      job.classifier = classifier;
      job.labels = classifier.labels;
      job.model = classifier.name;
      job.onWorkers = false;
      job.rows = kept.results.map(toRow);
      job.last = engine.progress();
    } catch (error) {
      job.outcome = 'cancelled';
      throw error;
    }
    this.follow(job, job.engine);
    return this.summary(job);
  }

  /** Forgets a kept run and deletes its journal (never the photos). A running one is refused. */
  async forget(id: BatchId): Promise<boolean> {
    const job = this.jobs.get(id);
    if (job && !job.outcome) throw new EngineError(ErrorCode.BUSY, 'the batch is still running: cancel it first');
    this.jobs.delete(id);
    return (await this.options.sessions?.remove(id)) ?? false;
  }

  /**
   * The photo behind a row of a run this host knows: the only way the UI reaches a result's file
   * (for its thumbnail or feature view). The path comes from the engine's own rows, never the UI;
   * under --root it must still resolve inside the root (a symlink swapped in since the run is refused).
   */
  async resultFile(id: BatchId, index: number): Promise<{ path: string; name: string }> {
    const job = this.job(id);
    const row = job.rows[index];
    if (!row) throw new EngineError(ErrorCode.INVALID_ARGUMENT, `batch ${id} has no row ${index}`);
    if (this.options.within && !(await isInside(row.path, this.options.within, { real: true }))) {
      throw new EngineError(
        ErrorCode.PATH_NOT_ALLOWED,
        'this photo is no longer inside the folder the server may read (moved, deleted or replaced by a link)',
        { item: path.basename(row.path) },
      );
    }
    return { path: row.path, name: path.basename(row.path) };
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
      ...((p as { pausing?: boolean }).pausing ? { pausing: true } : {}),
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
    await Promise.allSettled(running.map((job) => job.engine?.done));
  }

  cancelAll(): void {
    for (const job of this.jobs.values()) if (!job.outcome) job.engine?.cancel();
  }

  /** Cancels every run, waits for them to stop, and removes the working folder. */
  async dispose(): Promise<void> {
    this.cancelAll();
    await Promise.allSettled([...this.jobs.values()].map((job) => job.engine?.done));
    await Promise.allSettled([...this.writes]);
    const dir = this.workDirReady ? await this.workDirReady.catch(() => undefined) : undefined;
    this.workDirReady = undefined;
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}
