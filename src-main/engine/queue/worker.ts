// `reslens worker`: takes chunks from reslens:chunks, classifies them with its own provider, and
// sends the answers to the run's results queue. A chunk is data, validated before use; the only thing
// a job can make a worker do is classify image files (under --allow-root, with a model whose SHA-256
// matches, see worker-models.ts).
//
// Each chunk runs through the local batch pipeline (the same decode pool, batching and per-image
// errors as `reslens batch`), with one preprocessing pool kept for the worker's life. A chunk's
// answer is sent before BullMQ marks it complete, so a worker killed in between leads to a second
// answer, which the coordinator drops (first answer wins), never to a lost one.
//
// Stopping: stop() lets the chunks in hand finish and sends their answers (SIGTERM under systemd or
// Kubernetes); stop(true) abandons them, and BullMQ's stall check hands them to another worker once
// this worker's lock on them expires.
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import { BatchPipeline, defaultDecodeConcurrency } from '../batch/pipeline.js';
import type { JournalRecord } from '../batch/journal.js';
import { type Preprocessor, createPreprocessor } from '../batch/preprocess-pool.js';
import { closeWorkerWithin, settlesWithin } from './bounded-close.js';
import { queueClient, redactUrl } from './connection.js';
import type { PathAccess } from './path-access.js';
import { StallWatch } from './stall-watch.js';
import {
  CHUNKS_QUEUE,
  type ChunkJob,
  ChunkJobSchema,
  PROTOCOL_VERSION,
  QUEUE_PREFIX,
  type ResultsJob,
  type WorkerResult,
  resultsQueueName,
  workerId,
} from './protocol.js';
import type { WorkerModels } from './worker-models.js';

export interface QueueWorkerOptions {
  url: string;
  models: WorkerModels;
  access: PathAccess;
  /** Chunks classified at once (default 1: one chunk already keeps a CPU or GPU busy). */
  concurrency?: number;
  /** Images decoding at once (default: half the cores, 2–8, as a local batch). */
  decodeConcurrency?: number;
  /**
   * How long a chunk stays this worker's without a sign of life (default 30 s). A killed worker's chunk
   * goes elsewhere after about this long; it must exceed the longest single inference run, which
   * blocks the event loop that renews the lock.
   */
  lockMs?: number;
  /** How often to check that the consumer still takes waiting chunks (default 5000 ms; stall-watch.ts). */
  watchMs?: number;
  log: (message: string) => void;
  /** Told after each chunk (for hosts and tests). */
  onChunk?: (info: { chunk: string; images: number; failed: number; seconds: number }) => void;
}

export interface WorkerTotals {
  chunks: number;
  images: number;
  failed: number;
  refused: number;
}

export class QueueWorker {
  readonly id = workerId();
  readonly totals: WorkerTotals = { chunks: 0, images: 0, failed: 0, refused: 0 };
  private readonly resultQueues = new Map<string, Queue>();
  private stopping: Promise<void> | undefined;
  /** Chunks being classified and answered now: a graceful stop waits for these, not for BullMQ. */
  private readonly inHand = new Set<Promise<void>>();

  private readonly concurrency: number;
  private readonly chunksQueue: Queue;
  /** Replaces the BullMQ consumer if it stops taking chunks while chunks wait (stall-watch.ts). */
  private readonly watch: StallWatch;

  private constructor(
    private readonly options: QueueWorkerOptions,
    private readonly connection: Redis,
    private readonly preprocessor: Preprocessor,
    private worker: Worker | undefined,
  ) {
    this.concurrency = Math.max(1, options.concurrency ?? 1);
    this.chunksQueue = new Queue(CHUNKS_QUEUE, { connection, prefix: QUEUE_PREFIX });
    this.watch = new StallWatch({
      queue: this.chunksQueue,
      hasRoom: () => this.inHand.size < this.concurrency,
      everyMs: options.watchMs ?? 5000,
      onStall: ({ waiting, idleSeconds }) => {
        options.log(`queue: ${waiting} chunk(s) waiting but none taken for ${idleSeconds} s (the consumer stalled, e.g. after a Redis restart); restarting it`);
        const stalled = this.worker;
        this.worker = this.createConsumer();
        void closeWorkerWithin(stalled);
      },
    });
  }

  static async start(options: QueueWorkerOptions): Promise<QueueWorker> {
    const connection = queueClient(options.url);
    let reported = false;
    connection.on('error', (error: Error) => {
      if (!reported) options.log(`queue ${redactUrl(options.url)}: ${error.message}; retrying`);
      reported = true;
    });
    connection.on('ready', () => {
      if (reported) options.log(`queue ${redactUrl(options.url)}: connected again`);
      reported = false;
    });
    const preprocessor = await createPreprocessor(options.decodeConcurrency ?? defaultDecodeConcurrency());
    if (preprocessor.fallbackReason) options.log(`note: ${preprocessor.fallbackReason}`);
    const self = new QueueWorker(options, connection, preprocessor, undefined);
    self.worker = self.createConsumer();
    self.watch.start();
    return self;
  }

  private createConsumer(): Worker {
    const lockDuration = Math.max(1000, this.options.lockMs ?? 30_000);
    const worker = new Worker(
      CHUNKS_QUEUE,
      (job: Job) => {
        this.watch.taken();
        return this.track(this.process(job));
      },
      {
        connection: this.connection,
        prefix: QUEUE_PREFIX,
        name: this.id,
        concurrency: this.concurrency,
        lockDuration,
        stalledInterval: lockDuration,
        maxStalledCount: 1,
        // Short polls: a worker stopping mid-wait returns within a second.
        drainDelay: 1,
      },
    );
    worker.on('error', () => undefined); // connection trouble: logged by start(), retried by BullMQ
    return worker;
  }

  private resultsQueue(run: string): Queue {
    let queue = this.resultQueues.get(run);
    if (!queue) {
      queue = new Queue(resultsQueueName(run), { connection: this.connection, prefix: QUEUE_PREFIX });
      this.resultQueues.set(run, queue);
      // A long-lived worker serves many runs: keep the last few queues' handles only.
      if (this.resultQueues.size > 16) {
        const [oldest, handle] = this.resultQueues.entries().next().value as [string, Queue];
        this.resultQueues.delete(oldest);
        void handle.close().catch(() => undefined);
      }
    }
    return queue;
  }

  private track(work: Promise<void>): Promise<void> {
    this.inHand.add(work);
    void work.finally(() => this.inHand.delete(work)).catch(() => undefined);
    return work;
  }

  private async process(job: Job): Promise<void> {
    const parsed = ChunkJobSchema.safeParse(job.data);
    // Not ours to guess at: a malformed chunk fails at once (no retries) and the coordinator decides.
    if (!parsed.success) throw new UnrecoverableError(`${ErrorCode.INVALID_ARGUMENT}: malformed chunk (${parsed.error.issues[0]?.message ?? 'invalid'})`);
    const chunk = parsed.data;
    const started = performance.now();
    const results = await this.classify(chunk, String(job.id));
    const message: ResultsJob = { v: PROTOCOL_VERSION, chunk: String(job.id), worker: this.id, results };
    // The chunk's id names its answer: a second answer from a retry while the first still waits is not even stored.
    await this.resultsQueue(chunk.run).add('results', message, { jobId: String(job.id), removeOnComplete: true, removeOnFail: 1000 });
    const failed = results.filter((r) => 'error' in r).length;
    const seconds = (performance.now() - started) / 1000;
    this.totals.chunks++;
    this.totals.images += results.length;
    this.totals.failed += failed;
    this.options.onChunk?.({ chunk: String(job.id), images: results.length, failed, seconds });
  }

  private async classify(chunk: ChunkJob, chunkId: string): Promise<WorkerResult[]> {
    let classifier;
    try {
      classifier = await this.options.models.classifierFor(chunk.model, chunk.preprocessing);
    } catch (error) {
      this.totals.refused++;
      const code = error instanceof EngineError ? error.code : ErrorCode.MODEL_MISMATCH;
      const message = (error as Error).message;
      this.options.log(`refused chunk ${chunkId}: ${message}`);
      // Coded, so the coordinator turns the chunk into rows with this reason once its tries are spent.
      throw new Error(`${code === ErrorCode.MODEL_NOT_FOUND ? ErrorCode.MODEL_MISMATCH : code}: ${message}`, { cause: error });
    }
    const answers = new Map<string, WorkerResult>();
    // The chunk's paths as this worker reads them; several chunk paths may be one file.
    const readers = new Map<string, string[]>();
    for (const p of chunk.paths) {
      const access = await this.options.access.resolve(p);
      if ('error' in access) answers.set(p, { path: p, error: access.error });
      else readers.set(access.file, [...(readers.get(access.file) ?? []), p]);
    }
    if (readers.size > 0) {
      const records: JournalRecord[] = [];
      const pipeline = new BatchPipeline({
        inputs: [...readers.keys()],
        classifier,
        top: chunk.top,
        mode: chunk.mode,
        ...(chunk.maxPixels !== undefined ? { maxPixels: chunk.maxPixels } : {}),
        ...(chunk.batchSize !== undefined ? { batchSize: chunk.batchSize } : {}),
        preprocessor: this.preprocessor,
        // Only the named files: PathAccess checked each is a regular file (the walk never descends).
        walk: { followSymlinks: true, includeHidden: true },
        lingerMs: 50,
        progressIntervalMs: 60_000,
        commit: async (batch) => {
          records.push(...batch);
        },
      });
      const summary = await pipeline.run();
      if (summary.state !== 'finished') throw new Error(`${summary.error?.code ?? ErrorCode.INFERENCE_FAILED}: ${summary.error?.message ?? 'chunk stopped'}`);
      for (const record of records) {
        const r = record.result;
        for (const p of readers.get(record.path) ?? []) {
          answers.set(
            p,
            'error' in r ? { path: p, error: r.error } : { path: p, top: r.top.map((t) => ({ index: t.index, prob: t.prob })), ep: r.ep, ms: r.ms },
          );
        }
      }
    }
    // Every path of the chunk gets exactly one answer, in the chunk's order.
    return chunk.paths.map(
      (p) => answers.get(p) ?? { path: p, error: { code: ErrorCode.INFERENCE_FAILED, message: 'the worker produced no result for this file' } },
    );
  }

  /** Stops taking chunks; without `force`, finishes (and answers) the chunks in hand first. */
  stop(force = false): Promise<void> {
    if (force) void this.worker?.close(true);
    this.watch.stop();
    this.stopping ??= (async () => {
      // Unless forced, the chunks in hand are awaited in full (answers sent); BullMQ's close, which can
      // hang after a Redis restart, then gets a bounded grace before it is forced (bounded-close.ts).
      const closed = this.worker?.close(force);
      if (!force) await Promise.allSettled([...this.inHand]);
      if (!(await settlesWithin(closed))) await settlesWithin(this.worker?.close(true));
      await settlesWithin(Promise.allSettled([...this.resultQueues.values(), this.chunksQueue].map((q) => q.close())));
      await this.options.models.dispose();
      await this.preprocessor.close();
      this.connection.disconnect();
    })();
    return this.stopping;
  }
}
