// Where batch preprocessing runs. onnxruntime-node's run() blocks the JS thread for the whole
// inference (DESIGN.md, known traps), so the JS part of preprocessing (the Pillow-exact resize and
// normalisation) done on the main thread would wait for every batch: no overlap. A small pool of
// worker threads does the whole file → tensor step instead, so decoding and resizing really run
// while the model does. If workers cannot start (a bundle without the worker file, a sandbox),
// preprocessing falls back to the main thread, where only libvips' decode overlaps inference.
import { Worker } from 'node:worker_threads';
import { type ErrorInfo, toErrorInfo } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import { type PreprocessSpec, preprocessFile } from '../preprocess/preprocess.js';
import { pixelBudgetBuffer } from '../preprocess/pixel-budget.js';

export interface PreprocessJob {
  file: string;
  spec: PreprocessSpec;
  maxPixels?: number;
  shrinkOnLoad?: { minShorter: number };
}

export type PreprocessOutcome = { tensor: Float32Array; ms: number } | { error: Omit<ErrorInfo, 'item'>; tensor?: Float32Array };

export interface Preprocessor {
  readonly kind: 'workers' | 'main-thread';
  /** Why workers are not used, when they are not. */
  readonly fallbackReason?: string;
  /** Preprocesses one file; `reuse` (a spent tensor) may be recycled as the result's storage. */
  run(job: PreprocessJob, reuse?: Float32Array): Promise<PreprocessOutcome>;
  close(): Promise<void>;
}

export interface WorkerRequest extends PreprocessJob {
  id: number;
  buffer?: ArrayBuffer;
}

export interface WorkerReply {
  id: number;
  buffer: ArrayBuffer;
  ms?: number;
  error?: Omit<ErrorInfo, 'item'>;
}

class MainThreadPreprocessor implements Preprocessor {
  readonly kind = 'main-thread';
  constructor(readonly fallbackReason?: string) {}

  async run(job: PreprocessJob, reuse?: Float32Array): Promise<PreprocessOutcome> {
    const tensor = reuse ?? new Float32Array(3 * job.spec.crop * job.spec.crop);
    try {
      const result = await preprocessFile(job.file, job.spec, { maxPixels: job.maxPixels, shrinkOnLoad: job.shrinkOnLoad, target: tensor, offset: 0 });
      return { tensor, ms: result.timings.decodeMs + result.timings.resizeMs };
    } catch (error) {
      const { code, message } = toErrorInfo(error, ErrorCode.DECODE_FAILED);
      return { error: { code, message }, tensor };
    }
  }

  async close(): Promise<void> {}
}

interface Slot {
  worker: Worker;
  /** Jobs posted to this worker and not answered yet (it works through them one at a time). */
  outstanding: Map<number, (outcome: PreprocessOutcome) => void>;
  dead?: boolean;
}

function workerSource(): { boot: URL; impl: URL; tsx: boolean } {
  // Running from the .ts sources (tsx, vitest): the worker loads .ts through tsx; a build ships .js.
  const tsx = import.meta.url.endsWith('.ts');
  return { boot: new URL('./preprocess-worker-boot.mjs', import.meta.url), impl: new URL(`./preprocess-worker.${tsx ? 'ts' : 'js'}`, import.meta.url), tsx };
}

/**
 * Jobs are posted to the least-loaded worker at once, not when it becomes free: while inference blocks
 * the main thread, nothing could be handed out, so each worker keeps a queue to work through (the
 * caller bounds how many jobs are out). A worker decodes one image at a time, so memory per worker is
 * one decoded image however deep its queue.
 */
class WorkerPreprocessor implements Preprocessor {
  readonly kind = 'workers';
  private readonly slots: Slot[] = [];
  private readonly waiting: { request: WorkerRequest; resolve: (outcome: PreprocessOutcome) => void }[] = [];
  private nextId = 1;
  private closed = false;

  static async start(count: number, timeoutMs = 30_000): Promise<WorkerPreprocessor> {
    const pool = new WorkerPreprocessor();
    try {
      await Promise.all(Array.from({ length: count }, () => pool.spawn(timeoutMs)));
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  private spawn(timeoutMs: number): Promise<void> {
    const source = workerSource();
    // pixelBudget: the process-wide decoded-pixel counter, shared with the interactive path (pixel-budget.ts).
    const worker = new Worker(source.boot, { workerData: { impl: source.impl.href, tsx: source.tsx, pixelBudget: pixelBudgetBuffer() } });
    const slot: Slot = { worker, outstanding: new Map() };
    let started = false;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`preprocessing worker did not start in ${timeoutMs} ms`)), timeoutMs);
      worker.once('message', (message: { ready?: boolean }) => {
        clearTimeout(timer);
        if (!message.ready) return reject(new Error('preprocessing worker sent no ready message'));
        started = true;
        worker.on('message', (reply: WorkerReply) => this.onReply(slot, reply));
        this.slots.push(slot);
        resolve();
        this.drainWaiting();
      });
      worker.on('error', (error) => {
        clearTimeout(timer);
        if (!started) return reject(error);
        this.onCrash(slot, error);
      });
      worker.on('exit', (code) => {
        clearTimeout(timer);
        if (!started) return reject(new Error(`preprocessing worker exited with code ${code} before it started`));
        if (!this.closed) this.onCrash(slot, new Error(`preprocessing worker exited with code ${code}`));
      });
    });
  }

  private onReply(slot: Slot, reply: WorkerReply): void {
    const resolve = slot.outstanding.get(reply.id);
    if (!resolve) return;
    slot.outstanding.delete(reply.id);
    const tensor = new Float32Array(reply.buffer);
    resolve(reply.error ? { error: reply.error, tensor } : { tensor, ms: reply.ms ?? 0 });
  }

  /** A worker died (a native crash inside a decoder would take the process; this is anything less). */
  private onCrash(slot: Slot, error: Error): void {
    if (slot.dead) return; // 'error' is followed by 'exit'
    slot.dead = true;
    const index = this.slots.indexOf(slot);
    if (index >= 0) this.slots.splice(index, 1);
    for (const resolve of slot.outstanding.values())
      resolve({ error: { code: ErrorCode.DECODE_FAILED, message: `preprocessing stopped unexpectedly: ${error.message}` } });
    slot.outstanding.clear();
    void slot.worker.terminate();
    if (this.closed) return;
    this.spawn(30_000).catch((spawnError: unknown) => {
      // No worker left at all: fail what waits rather than hang.
      if (this.slots.length === 0) {
        for (const job of this.waiting.splice(0))
          job.resolve({ error: { code: ErrorCode.DECODE_FAILED, message: `preprocessing workers unavailable: ${(spawnError as Error).message}` } });
      }
    });
  }

  private post(request: WorkerRequest, resolve: (outcome: PreprocessOutcome) => void): void {
    let best: Slot | undefined;
    for (const slot of this.slots) if (!best || slot.outstanding.size < best.outstanding.size) best = slot;
    if (!best) {
      this.waiting.push({ request, resolve }); // between a crash and its replacement
      return;
    }
    best.outstanding.set(request.id, resolve);
    best.worker.postMessage(request, request.buffer ? [request.buffer] : []);
  }

  private drainWaiting(): void {
    for (const job of this.waiting.splice(0)) this.post(job.request, job.resolve);
  }

  run(job: PreprocessJob, reuse?: Float32Array): Promise<PreprocessOutcome> {
    if (this.closed) return Promise.resolve({ error: { code: ErrorCode.CANCELLED, message: 'preprocessing pool closed' } });
    const buffer = reuse && reuse.byteOffset === 0 && reuse.byteLength === reuse.buffer.byteLength ? (reuse.buffer as ArrayBuffer) : undefined;
    const request: WorkerRequest = {
      id: this.nextId++,
      file: job.file,
      spec: job.spec,
      maxPixels: job.maxPixels,
      shrinkOnLoad: job.shrinkOnLoad,
      ...(buffer ? { buffer } : {}),
    };
    return new Promise<PreprocessOutcome>((resolve) => this.post(request, resolve));
  }

  async close(): Promise<void> {
    this.closed = true;
    const cancelled: PreprocessOutcome = { error: { code: ErrorCode.CANCELLED, message: 'preprocessing pool closed' } };
    for (const job of this.waiting.splice(0)) job.resolve(cancelled);
    const slots = this.slots.splice(0);
    for (const slot of slots) for (const resolve of slot.outstanding.values()) resolve(cancelled);
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }
}

/** A pool of `workers` preprocessing threads, or the main thread when workers are 0 or cannot start. */
export async function createPreprocessor(workers: number): Promise<Preprocessor> {
  if (workers <= 0) return new MainThreadPreprocessor();
  try {
    return await WorkerPreprocessor.start(workers);
  } catch (error) {
    return new MainThreadPreprocessor(`worker threads unavailable (${(error as Error).message}); preprocessing on the main thread`);
  }
}
