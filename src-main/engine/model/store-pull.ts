// Pulling a catalog model into the store: the download (resumable, size and SHA-256 checked, see
// download.ts) under the model's lock, then its sidecar. Two pulls of one model in this process share
// the download; each caller gets the progress, and a caller that cancels stops waiting, not the pull.
import { mkdir } from 'node:fs/promises';
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import { type Catalog, type CatalogEntry, preprocessingOf } from './catalog.js';
import { type FetchLike, type TransferProgress, downloadVerified } from './download.js';
import { lockDownload } from './download-lock.js';
import { type Sidecar, type StoreLayout, type StoredModel } from './store-layout.js';

export interface PullOptions {
  onProgress?: (progress: TransferProgress) => void;
  signal?: AbortSignal;
  /** Download again even when the model is installed. */
  force?: boolean;
  /** For tests: another fetch (the catalog can also be injected with local URLs). */
  fetchImpl?: FetchLike;
}

export interface PullResult extends StoredModel {
  /** False when the model was already installed and nothing was downloaded. */
  downloaded: boolean;
  /** Bytes kept from an earlier interrupted download. */
  resumedFrom: number;
}

/** Download tuning (tests make retries fast). */
export interface DownloadTuning {
  maxRetries?: number;
  retryDelayMs?: number;
  stallTimeoutMs?: number;
  progressIntervalMs?: number;
}

type ProgressListener = (progress: TransferProgress) => void;

/** The pulls running in this process, one per model. */
export class SharedPulls {
  private readonly running = new Map<string, { promise: Promise<PullResult>; listeners: Set<ProgressListener> }>();

  constructor(
    private readonly layout: StoreLayout,
    private readonly catalog: Catalog,
    private readonly defaults: { fetchImpl?: FetchLike; tuning: DownloadTuning },
  ) {}

  /** Downloads `entry`, or joins the download of it already running. */
  pull(entry: CatalogEntry, options: PullOptions): Promise<PullResult> {
    const running = this.running.get(entry.name);
    if (running) {
      if (options.onProgress) running.listeners.add(options.onProgress);
      return options.signal ? raceAbort(running.promise, options.signal, entry.name) : running.promise;
    }
    const listeners = new Set<ProgressListener>();
    if (options.onProgress) listeners.add(options.onProgress);
    const promise = this.download(entry, options, listeners).finally(() => this.running.delete(entry.name));
    this.running.set(entry.name, { promise, listeners });
    return promise;
  }

  private async download(entry: CatalogEntry, options: PullOptions, listeners: Set<ProgressListener>): Promise<PullResult> {
    const destination = this.layout.modelPath(entry.name);
    await mkdir(this.layout.partialDir, { recursive: true });
    const release = await lockDownload(this.layout.lockPath(entry.name), entry.name);
    try {
      const result = await downloadVerified({
        url: entry.url,
        destination,
        partial: this.layout.partialPath(entry.name),
        expectedBytes: entry.bytes,
        expectedSha256: entry.sha256,
        name: entry.name,
        signal: options.signal,
        onProgress: (p) => {
          for (const listener of listeners) listener(p);
        },
        fetchImpl: options.fetchImpl ?? this.defaults.fetchImpl,
        ...this.defaults.tuning,
      });
      const sidecar: Sidecar = {
        name: entry.name,
        source: 'catalog',
        sha256: result.sha256,
        bytes: result.bytes,
        importedFrom: null,
        url: entry.url,
        labelsFile: null,
        preprocessing: preprocessingOf(this.catalog, entry),
        classes: entry.classes,
        addedAt: new Date().toISOString(),
      };
      await this.layout.writeSidecar(sidecar);
      return { name: entry.name, source: 'catalog', path: destination, sidecar, catalogEntry: entry, downloaded: true, resumedFrom: result.resumedFrom };
    } finally {
      await release();
    }
  }
}

/** Waits for `promise` unless `signal` aborts first (the shared work itself goes on). */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal, name: string): Promise<T> {
  if (signal.aborted) return Promise.reject(new EngineError(ErrorCode.CANCELLED, `pull of ${name} cancelled`, { item: name }));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new EngineError(ErrorCode.CANCELLED, `pull of ${name} cancelled`, { item: name }));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
