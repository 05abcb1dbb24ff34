// The coordinator of a queue run (`reslens batch DIR --queue URL`): it takes the local pipeline's
// place inside startBatch (engine/batch/run.ts), so the journal, --resume, the exports and organise
// are the local batch's own code; only where images are classified changes.
//
//   walk ──▶ admit (stat, resume check) ──▶ chunks (≤ chunkSize paths) ──▶ reslens:chunks ──▶ workers
//                                                                               │
//   journal ◀── commit (sole writer) ◀── dedupe by path ◀── reslens:results.<run> ◀┘
//
// Exactly once: every admitted path is "pending" (with the size and mtime it had when admitted)
// until its first result is committed; a result for a path that is not pending (a retried chunk's
// second answer, a chunk from before a coordinator crash) is dropped. Memory holds only the pending
// paths: at most `window` chunks are out at once (paused walking applies the backpressure).
//
// Failures (see docs/queue.md): a killed worker's chunk is found stalled by the other workers'
// BullMQ stall check and retried; a chunk that fails `attempts` times, or stalls twice, comes back
// here as failed: coded refusals (MODEL_MISMATCH, …) become error rows with that code, anything else
// (a worker that crashed on it) is split in halves and retried, down to single images, which then
// become WORKER_FAILED rows and a dead letter. A reconcile tick also re-sends chunks that vanished
// from Redis (a restart without persistence), reads answers that the consumer leaves unread (its
// blocking client wedged after a restart) and is what notices failures at all: no event stream and no
// blocking client needs to survive anything.
import { randomBytes } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { RateMeter } from '../core/rate.js';
import { ErrorCode } from '../core/vocabulary.js';
import type { ClassifyResult } from '../infer/classify-files.js';
import type { FileKey, JournalRecord } from '../batch/journal.js';
import type { PipelineOptions } from '../batch/pipeline.js';
import { type BatchProgress, type PipelineSummary, RunControl } from '../batch/run-control.js';
import { WakeSignal } from '../batch/sync.js';
import { walkInputs } from '../batch/walk.js';
import { closeWorkerWithin, settlesWithin } from './bounded-close.js';
import { queueClient, redactUrl } from './connection.js';
import { CHUNKS_QUEUE, type ChunkJob, DEAD_QUEUE, PROTOCOL_VERSION, QUEUE_PREFIX, ResultsJobSchema, codedFailure, resultsQueueName } from './protocol.js';
import type { RemoteModel } from './remote-model.js';

/** Reconcile ticks an answer may wait unread before the tick reads it itself (5 s at the default tick). */
const UNREAD_TICKS = 5;

export interface QueueSettings {
  url: string;
  /** Images per chunk (default 32: ~1–3 s of CPU work, small enough to spread, large enough that queue costs vanish). */
  chunkSize?: number;
  /** Chunks out at once (default 64). */
  window?: number;
  /** Tries per chunk before it comes back as failed (default 3). */
  attempts?: number;
  /** How often outstanding chunks are checked for failure or loss (default 1000 ms). */
  reconcileMs?: number;
}

export interface WorkerRate {
  worker: string;
  done: number;
  failed: number;
  imagesPerSecond: number;
  /** Seconds since this worker's last result. */
  idleSeconds: number;
}

export interface QueueProgress extends BatchProgress {
  workers: WorkerRate[];
}

interface Pending {
  key: FileKey;
  chunk: string;
}

interface Outstanding {
  id: string;
  paths: Set<string>;
  /** Ticks in a row that found the chunk in neither queue. */
  missingTicks: number;
  /** Ticks in a row that found its answer waiting, not taken by the consumer. */
  unreadTicks: number;
}

interface WorkerStats {
  rate: RateMeter;
  done: number;
  failed: number;
  lastAt: number;
}

/** State, counters, rate and time left, progress events: as for the local pipeline (batch/run-control.ts). */
export class QueueCoordinator extends RunControl<QueueProgress> {
  private readonly wake = new WakeSignal();
  /** Wakes the timed loops (reconcile, the no-worker warning) only when the run ends. */
  private readonly ending = new WakeSignal();
  private ended = false;
  /** Said once per run: the consumer stalled and the reconcile tick reads answers. */
  private unreadNoticed = false;
  private readonly pending = new Map<string, Pending>();
  private readonly outstanding = new Map<string, Outstanding>();
  private readonly workers = new Map<string, WorkerStats>();
  /** Ids unique to this session: a chunk id of a crashed session may still sit in Redis as failed. */
  private readonly session = randomBytes(4).toString('hex');
  private sequence = 0;
  private walkDone = false;
  private committing: Promise<void> = Promise.resolve();
  private readonly queued: { records: JournalRecord[]; worker: string | undefined; resolve: () => void; reject: (error: unknown) => void }[] = [];
  private draining = false;
  private readonly chunkSize: number;
  private readonly window: number;
  private connection: Redis | undefined;
  private chunks: Queue | undefined;
  private results: Queue | undefined;
  private consumer: Worker | undefined;
  /** Stable across --resume (derived from the journal), so results left in Redis by a crash are read. */
  private runId = '';

  constructor(
    private readonly options: PipelineOptions,
    private readonly model: RemoteModel,
    private readonly settings: QueueSettings,
    /**
     * The run's id, read when the run starts: it comes from the journal's header, which startBatch
     * writes after creating the runner (so a pause or cancel before the start is this object's too).
     */
    private readonly resolveRunId: () => Promise<string>,
  ) {
    super({ failureCode: ErrorCode.QUEUE_UNAVAILABLE, onProgress: options.onProgress, progressIntervalMs: options.progressIntervalMs });
    this.chunkSize = Math.max(1, Math.min(settings.chunkSize ?? 32, 256));
    this.window = Math.max(1, settings.window ?? 64);
  }

  protected override describe(progress: BatchProgress): QueueProgress {
    // Chunks already with a worker still deliver after a pause: "Pausing…" until they have.
    const pausing = progress.state === 'paused' && this.outstanding.size > 0;
    return { ...progress, ...(pausing ? { pausing } : {}), workers: this.workerRates() };
  }

  protected override onWake(): void {
    this.wake.notify();
  }

  private workerRates(): WorkerRate[] {
    const now = performance.now();
    return [...this.workers.entries()]
      .map(([worker, s]) => ({
        worker,
        done: s.done,
        failed: s.failed,
        imagesPerSecond: Math.round(s.rate.rate() * 100) / 100,
        idleSeconds: Math.round((now - s.lastAt) / 100) / 10,
      }))
      .sort((a, b) => (a.worker < b.worker ? -1 : 1));
  }

  async run(): Promise<PipelineSummary> {
    this.runId = await this.resolveRunId();
    this.start();
    const connection = queueClient(this.settings.url);
    this.connection = connection;
    let reported = false;
    connection.on('error', (error: Error) => {
      // ioredis reconnects by itself; say it once per outage, not once per retry.
      if (!reported) this.options.onNotice?.(`queue ${redactUrl(this.settings.url)}: ${error.message}; retrying`);
      reported = true;
    });
    connection.on('ready', () => (reported = false));
    const common = { connection, prefix: QUEUE_PREFIX };
    this.chunks = new Queue(CHUNKS_QUEUE, common);
    this.results = new Queue(resultsQueueName(this.runId), common);
    this.consumer = this.createConsumer(resultsQueueName(this.runId), common);
    this.consumer.on('error', () => undefined); // connection trouble: reported above, retried by BullMQ
    const counting = this.startCounting(this.options.inputs, this.options.walk);
    const ticking = this.reconcileLoop();
    const workersCheck = this.warnWithoutWorkers();
    try {
      await this.removeStaleChunks();
      await this.produce();
      while (!this.stopping && (this.outstanding.size > 0 || this.pending.size > 0)) await this.wake.wait(500);
    } catch (error) {
      this.fail(error);
    }
    this.stopCounting();
    this.ended = true;
    this.ending.notify();
    this.wake.notify();
    await counting;
    await ticking;
    await workersCheck;
    if (this.stopping && !this.failure) await settlesWithin(this.withdrawWaiting());
    // Every answer this run needs is committed by now (or the run stopped): BullMQ's closes only get
    // a grace, as they can hang after a Redis restart (bounded-close.ts).
    await closeWorkerWithin(this.consumer);
    await this.committing.catch(() => undefined);
    // A finished run leaves nothing behind in Redis; a stopped one keeps its results queue for --resume.
    if (!this.stopping) await settlesWithin(this.results.obliterate({ force: true }));
    await settlesWithin(Promise.allSettled([this.results.close(), this.chunks.close()]));
    connection.disconnect();
    return this.finish();
  }

  /**
   * What takes this run's answers as they arrive. If it stops taking them (a BullMQ blocking client
   * wedged after a Redis restart), the reconcile tick reads them itself (readUnreadAnswer).
   */
  protected createConsumer(name: string, common: { connection: Redis; prefix: string }): Worker {
    return new Worker(name, (job: Job) => this.receive(job), {
      ...common,
      concurrency: 8,
      drainDelay: 1,
      removeOnComplete: { count: 0 },
      removeOnFail: { count: 1000 },
    });
  }

  /** Walks, skips what is done, and sends chunks while fewer than `window` are out. */
  private async produce(): Promise<void> {
    const walker = walkInputs(this.options.inputs, this.options.walk);
    let chunk: { path: string; key: FileKey }[] = [];
    const local: JournalRecord[] = [];
    try {
      for await (const item of walker) {
        await this.waitWhilePaused();
        if (this.stopping) break;
        if (!('error' in item) && this.pending.has(item.path)) continue; // the same file named twice
        const admitted = await this.admit(item, this.options.isDone);
        if (!admitted) continue;
        const { key, error } = admitted;
        if (error) {
          local.push({ path: item.path, ...key, result: { path: item.path, error } });
          continue;
        }
        this.markAdmitted();
        chunk.push({ path: item.path, key });
        if (local.length >= this.chunkSize) await this.commitLocal(local.splice(0));
        if (chunk.length >= this.chunkSize) {
          await this.send(chunk);
          chunk = [];
        }
      }
      if (!this.stopping && chunk.length > 0) await this.send(chunk);
      if (local.length > 0) await this.commitLocal(local.splice(0));
    } finally {
      await walker.return(undefined);
      this.walkDone = true;
      this.wake.notify();
    }
  }

  /** Errors found here (walk, stat) go to the journal like a worker's. */
  private async commitLocal(records: JournalRecord[]): Promise<void> {
    await this.commit(records, undefined);
  }

  /** Sends a chunk, first waiting for room in the window (or a pause to end). */
  private async send(items: { path: string; key: FileKey }[]): Promise<void> {
    while (!this.stopping && (this.paused || this.outstanding.size >= this.window)) await this.wake.wait(1000);
    if (this.stopping) return;
    for (const item of items) this.pending.set(item.path, { key: item.key, chunk: '' });
    await this.enqueue(items.map((i) => i.path));
  }

  private async enqueue(paths: string[]): Promise<void> {
    const id = `${this.runId}-${this.session}-${++this.sequence}`;
    const data: ChunkJob = {
      v: PROTOCOL_VERSION,
      run: this.runId,
      model: { name: this.model.name, sha256: this.model.info.sha256 },
      preprocessing: this.model.preprocessing,
      mode: this.options.mode ?? 'fast',
      top: this.options.top ?? 5,
      ...(this.options.maxPixels !== undefined ? { maxPixels: this.options.maxPixels } : {}),
      ...(this.options.batchSize !== undefined ? { batchSize: this.options.batchSize } : {}),
      paths,
    };
    for (const p of paths) {
      const entry = this.pending.get(p);
      if (entry) entry.chunk = id;
    }
    this.outstanding.set(id, { id, paths: new Set(paths), missingTicks: 0, unreadTicks: 0 });
    await (this.chunks as Queue).add('chunk', data, {
      jobId: id,
      attempts: Math.max(1, this.settings.attempts ?? 3),
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: true,
      removeOnFail: false,
    });
  }

  /** One worker's answer for one chunk: validated, deduplicated, relabelled, committed. */
  private async receive(job: Job): Promise<void> {
    const parsed = ResultsJobSchema.safeParse(job.data);
    if (!parsed.success) {
      this.options.onNotice?.(`ignored a malformed result message in the queue (job ${String(job.id)})`);
      return;
    }
    const { worker, results } = parsed.data;
    const labels = this.model.labels;
    const top = this.options.top ?? 5;
    const records: JournalRecord[] = [];
    for (const r of results) {
      const pending = this.pending.get(r.path);
      if (!pending) continue; // a duplicate (retried chunk) or not this session's: the first answer stands
      this.pending.delete(r.path);
      this.release(pending.chunk, r.path);
      let result: ClassifyResult;
      if ('error' in r) result = { path: r.path, error: r.error, worker };
      else if (r.top.length !== Math.min(top, labels.length) || r.top.some((t) => t.index >= labels.length)) {
        result = {
          path: r.path,
          error: { code: ErrorCode.INFERENCE_FAILED, message: `worker ${worker} sent a result that does not fit the model (${r.top.length} classes)` },
          worker,
        };
      } else {
        result = {
          path: r.path,
          top: r.top.map((t) => ({ index: t.index, label: labels[t.index], prob: t.prob })),
          model: this.model.name,
          ep: r.ep,
          ms: r.ms,
          worker,
        };
        this.stats.inferred++;
        this.stats.inferenceSeconds += r.ms / 1000;
      }
      records.push({ path: r.path, size: pending.key.size, mtimeMs: pending.key.mtimeMs, result });
    }
    this.stats.batches++;
    if (records.length > 0) await this.commit(records, worker);
  }

  private release(chunk: string, file: string): void {
    const out = this.outstanding.get(chunk);
    if (!out) return;
    out.paths.delete(file);
    if (out.paths.size === 0) {
      this.outstanding.delete(chunk);
      this.wake.notify();
    }
  }

  /**
   * Journal first (durable), then report: the local pipeline's order. Group commit: answers that
   * arrive while one append + fdatasync is under way go out together in the next one, so the sync
   * rate, not the message rate, bounds the coordinator (measured in tests/bench/queue.ts).
   */
  private commit(records: JournalRecord[], worker: string | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queued.push({ records, worker, resolve, reject });
      if (!this.draining) this.committing = this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queued.length > 0) {
        const group = this.queued.splice(0);
        const records = group.flatMap((g) => g.records);
        try {
          await this.options.commit?.(records);
          for (const g of group) this.account(g.records, g.worker);
          await this.options.onResults?.(records);
          this.emitProgress(true);
          this.wake.notify();
          for (const g of group) g.resolve();
        } catch (error) {
          for (const g of group) g.reject(error);
          this.fail(error);
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private account(records: JournalRecord[], worker: string | undefined): void {
    const failed = this.countCommitted(records);
    if (!worker) return;
    let stats = this.workers.get(worker);
    if (!stats) {
      // No rate until a worker's second answer: one answer alone says nothing about its speed.
      stats = { rate: new RateMeter(), done: 0, failed: 0, lastAt: 0 };
      this.workers.set(worker, stats);
    }
    stats.done += records.length;
    stats.failed += failed;
    stats.rate.add(records.length);
    stats.lastAt = performance.now();
  }

  private async reconcileLoop(): Promise<void> {
    const interval = this.settings.reconcileMs ?? 1000;
    while (!this.ended) {
      await this.ending.wait(interval);
      if (this.ended) return;
      try {
        await this.reconcile();
      } catch {
        // Redis unreachable for now: the next tick tries again.
      }
    }
  }

  /**
   * Failed chunks come back as rows or smaller chunks; vanished ones are sent again; answers the
   * consumer leaves unread are read here.
   */
  private async reconcile(): Promise<void> {
    const chunks = this.chunks as Queue;
    for (const out of [...this.outstanding.values()]) {
      if (this.stopping) return;
      const state = await chunks.getJobState(out.id);
      // A chunk still waiting has no answer yet: one query less per tick for most of the window.
      const answer = state === 'waiting' ? 'none' : await (this.results as Queue).getJobState(out.id);
      if (answer === 'waiting') {
        // The consumer takes an answer within milliseconds; one unread for UNREAD_TICKS ticks means it
        // has stopped. A failed chunk's answer is read at once, so its answered images are not failed.
        if (state === 'failed' || ++out.unreadTicks >= UNREAD_TICKS) await this.readUnreadAnswer(out);
      } else out.unreadTicks = 0;
      if (state === 'failed') {
        const job = await chunks.getJob(out.id);
        this.outstanding.delete(out.id);
        await this.failed(out, job?.failedReason ?? 'failed');
        await job?.remove().catch(() => undefined);
      } else if (state === 'unknown' && answer === 'unknown') {
        // Completed with its answer consumed a moment ago, or lost (Redis restarted without its data):
        // only the second tick in a row that still finds unanswered paths sends them again.
        if (++out.missingTicks >= 2 && this.outstanding.has(out.id) && out.paths.size > 0) {
          this.outstanding.delete(out.id);
          this.options.onNotice?.(`queue: a chunk of ${out.paths.size} image(s) vanished from Redis (restarted without persistence?); sending it again`);
          await this.enqueue([...out.paths]);
        }
      } else {
        out.missingTicks = 0;
      }
    }
  }

  /** An answer the consumer did not take: read and committed here (a late second read is a duplicate, dropped). */
  private async readUnreadAnswer(out: Outstanding): Promise<void> {
    const job = await (this.results as Queue).getJob(out.id);
    if (!job) return;
    if (!this.unreadNoticed)
      this.options.onNotice?.(
        `queue: an answer waited ${out.unreadTicks} checks unread (the results consumer stalled, e.g. after a Redis restart); reading answers directly`,
      );
    this.unreadNoticed = true;
    out.unreadTicks = 0;
    await this.receive(job);
    await job.remove().catch(() => undefined); // taken by the consumer meanwhile: it finds nothing new
  }

  private async failed(out: Outstanding, reason: string): Promise<void> {
    const paths = [...out.paths].filter((p) => this.pending.has(p));
    if (paths.length === 0) return;
    const coded = codedFailure(reason);
    if (!coded && paths.length > 1) {
      // A worker died on (or failed) this chunk every time: find the image to blame by halving.
      const half = Math.ceil(paths.length / 2);
      await this.enqueue(paths.slice(0, half));
      await this.enqueue(paths.slice(half));
      return;
    }
    const error = coded ?? { code: ErrorCode.WORKER_FAILED, message: `workers stopped or failed on this image repeatedly (${reason}); skipped` };
    const records: JournalRecord[] = [];
    for (const p of paths) {
      const pending = this.pending.get(p) as Pending;
      this.pending.delete(p);
      records.push({ path: p, size: pending.key.size, mtimeMs: pending.key.mtimeMs, result: { path: p, error } });
    }
    if (!coded) {
      const dead = new Queue(DEAD_QUEUE, { connection: this.connection as Redis, prefix: QUEUE_PREFIX });
      await dead.add('image', { run: this.runId, paths, reason }, { removeOnComplete: true }).catch(() => undefined);
      await dead.close().catch(() => undefined);
    }
    this.wake.notify();
    await this.commit(records, undefined);
  }

  /** Chunks of this run still waiting from a session that crashed: their images are admitted again. */
  private async removeStaleChunks(): Promise<void> {
    const chunks = this.chunks as Queue;
    const prefix = `${this.runId}-`;
    for (let start = 0; ; start += 1000) {
      const jobs = await chunks.getJobs(['waiting', 'delayed', 'prioritized', 'failed'], start, start + 999, true);
      if (jobs.length === 0) break;
      for (const job of jobs) if (job?.id?.startsWith(prefix)) await (job as Job).remove().catch(() => undefined);
      if (jobs.length < 1000) break;
    }
  }

  /** On cancel: chunks no worker has taken yet are withdrawn; those being classified finish unused. */
  private async withdrawWaiting(): Promise<void> {
    const chunks = this.chunks as Queue;
    await Promise.all(
      [...this.outstanding.keys()].map(async (id) => {
        const state = await chunks.getJobState(id).catch(() => 'unknown');
        if (state === 'waiting' || state === 'delayed' || state === 'prioritized') await chunks.remove(id).catch(() => undefined);
      }),
    );
  }

  /** Says so when no worker is connected, once at the start and again every 30 s without results. */
  private async warnWithoutWorkers(): Promise<void> {
    let lastDone = 0;
    let first = true;
    while (!this.ended) {
      await this.ending.wait(first ? 3000 : 30_000);
      first = false;
      if (this.ended) return;
      if (this.outstanding.size > 0 && this.processedCount === lastDone) {
        // CLIENT LIST may be disabled on a managed Redis: then nothing is said.
        const count = await (this.chunks as Queue).getWorkersCount().catch(() => -1);
        if (count === 0)
          this.options.onNotice?.(`no worker is connected to ${redactUrl(this.settings.url)}: start one with reslens worker --queue URL (the run waits)`);
      }
      lastDone = this.processedCount;
    }
  }
}
