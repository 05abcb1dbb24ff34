// Downloads one file over HTTP(S) into a partial file, resuming with Range requests after a dropped
// connection (and across processes), hashing as it goes, and moves it into place only once its size
// and SHA-256 are right. Uses Node's fetch: redirects are followed (GitHub's raw URLs redirect to the
// LFS media host), and the AbortSignal cancels the transfer at any point.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import { fileSize } from '../core/files.js';
import { RateMeter } from '../core/rate.js';

export interface TransferProgress {
  /** Bytes on disk so far, including those kept from an earlier, interrupted transfer. */
  received: number;
  /** Expected size, when known. */
  total: number | null;
  /** Recent transfer rate (bytes received in this run over the last few seconds). */
  bytesPerSecond: number;
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface DownloadOptions {
  url: string;
  /** Final location; created only after verification, by renaming the partial file. */
  destination: string;
  /** Where the bytes accumulate; an existing file here is resumed. */
  partial: string;
  expectedBytes: number;
  expectedSha256: string;
  /** The model's name, for messages (how to import instead). */
  name?: string;
  signal?: AbortSignal;
  onProgress?: (progress: TransferProgress) => void;
  /** Attempts in a row that may fail without receiving a byte before giving up (default 4). */
  maxRetries?: number;
  /** First retry delay; doubles per failure in a row, capped at 30 s (default 1000 ms). */
  retryDelayMs?: number;
  /** Abort and retry an attempt that receives nothing for this long (default 60 s). */
  stallTimeoutMs?: number;
  /** Minimum time between progress events (default 200 ms); the last one always comes. */
  progressIntervalMs?: number;
  fetchImpl?: FetchLike;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  sha256: string;
  /** Bytes that were already in the partial file when this call started. */
  resumedFrom: number;
  /** HTTP requests made. */
  attempts: number;
}

/**
 * The fact every failed download ends with: the way in that needs no network. How to import is the
 * host's to say (the error's hint: `import`): a CLI command, or the app's Import button.
 */
export function importHint(_name: string | undefined, url: string): string {
  return `If this computer is offline or cannot reach ${hostOf(url)}, the file can be downloaded from ${url} on another machine and imported`;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** A failure worth another attempt (network trouble, 5xx, short body). */
class RetryableError extends Error {}

const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);
const OFFLINE_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH', 'ENETDOWN', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);

/** The most specific description of a network error: message plus the system code from the cause chain. */
export function describeNetworkError(error: unknown): { text: string; code?: string; offline: boolean } {
  const parts: string[] = [];
  let code: string | undefined;
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth += 1) {
    if (current instanceof Error) {
      const errno = (current as NodeJS.ErrnoException).code;
      if (typeof errno === 'string' && code === undefined) code = errno;
      if (current.message && !parts.includes(current.message)) parts.push(current.message);
      current = (current as Error & { cause?: unknown }).cause;
    } else {
      parts.push(String(current));
      break;
    }
  }
  const text = parts.join(': ') + (code && !parts.some((p) => p.includes(code)) ? ` (${code})` : '');
  return { text: text || 'unknown network error', code, offline: code !== undefined && OFFLINE_CODES.has(code) };
}

// Parses "bytes START-END/TOTAL" (TOTAL may be a star) or "bytes star/TOTAL" (the form a 416 carries).
export function parseContentRange(header: string | null): { start: number | null; end: number | null; total: number | null } | null {
  if (!header) return null;
  const match = /^\s*bytes\s+(?:(\d+)-(\d+)|\*)\s*\/\s*(\d+|\*)\s*$/i.exec(header);
  if (!match) return null;
  return {
    start: match[1] === undefined ? null : Number(match[1]),
    end: match[2] === undefined ? null : Number(match[2]),
    total: match[3] === '*' ? null : Number(match[3]),
  };
}

async function hashFileInto(hash: Hash, file: string, signal?: AbortSignal): Promise<number> {
  let bytes = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20, signal })) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return bytes;
}

function cancelled(name: string | undefined, kept: number): EngineError {
  return new EngineError(
    ErrorCode.CANCELLED,
    `download${name ? ` of ${name}` : ''} cancelled${kept > 0 ? `; ${kept} bytes kept, the next pull resumes from there` : ''}`,
    name === undefined ? undefined : { item: name },
  );
}

/** What the steps of one download share: where from and to, and how to name it in messages. */
interface DownloadJob {
  url: string;
  partial: string;
  expectedBytes: number;
  name?: string;
  label: string;
  item: { item?: string; hint: { actions: 'import'[]; model?: string } };
  signal?: AbortSignal;
  fetchImpl: FetchLike;
  stallTimeoutMs: number;
}

/** The bytes so far (across attempts), their running hash, the rate, and throttled progress. */
class Transfer {
  hash = createHash('sha256');
  have = 0;
  /** Bytes already in the partial file when the call started. */
  resumedFrom = 0;
  // Bytes per second over the last 3 s: a download's rate changes faster than a batch's.
  private readonly meter = new RateMeter(3000);
  private lastEmit = -Infinity;

  constructor(
    private readonly total: number,
    private readonly onProgress: ((progress: TransferProgress) => void) | undefined,
    private readonly progressIntervalMs: number,
  ) {
    this.meter.restart();
  }

  emit(force = false): void {
    if (!this.onProgress) return;
    const now = performance.now();
    if (!force && now - this.lastEmit < this.progressIntervalMs) return;
    this.lastEmit = now;
    this.onProgress({ received: this.have, total: this.total, bytesPerSecond: this.meter.rate() });
  }

  add(bytes: Uint8Array): void {
    this.hash.update(bytes);
    this.have += bytes.byteLength;
    this.meter.add(bytes.byteLength);
    this.emit();
  }

  restartFromZero(): void {
    this.hash = createHash('sha256');
    this.have = 0;
    this.meter.restart();
  }
}

const discard = async (job: DownloadJob): Promise<void> => {
  await rm(job.partial, { force: true });
};

/** Deletes the partial file and throws DOWNLOAD_FAILED with the way in that needs no network. */
async function failed(job: DownloadJob, message: string, cause?: unknown): Promise<never> {
  await discard(job);
  throw new EngineError(ErrorCode.DOWNLOAD_FAILED, `${message}. ${importHint(job.name, job.url)}`, { ...job.item, cause });
}

/**
 * Downloads `url` to `destination` via `partial`, verifying size and SHA-256.
 * Throws EngineError DOWNLOAD_FAILED, CHECKSUM_MISMATCH or CANCELLED. On failure the partial file is
 * deleted; on cancellation it is kept so that the next call resumes.
 */
export async function downloadVerified(options: DownloadOptions): Promise<DownloadResult> {
  const {
    url,
    destination,
    partial,
    expectedBytes,
    name,
    signal,
    onProgress,
    maxRetries = 4,
    retryDelayMs = 1000,
    stallTimeoutMs = 60_000,
    progressIntervalMs = 200,
  } = options;
  const job: DownloadJob = {
    url,
    partial,
    expectedBytes,
    name,
    label: name ?? path.basename(destination),
    item: { ...(name === undefined ? {} : { item: name }), hint: { actions: ['import' as const], ...(name === undefined ? {} : { model: name }) } },
    signal,
    fetchImpl: options.fetchImpl ?? ((input, init) => fetch(input, init)),
    stallTimeoutMs,
  };

  if (signal?.aborted) throw cancelled(name, 0);
  await mkdir(path.dirname(partial), { recursive: true });
  await mkdir(path.dirname(destination), { recursive: true });

  const transfer = new Transfer(expectedBytes, onProgress, progressIntervalMs);
  await resumePartial(job, transfer);
  transfer.emit(true);
  const attempts = await transferWithRetries(job, transfer, maxRetries, retryDelayMs);
  transfer.emit(true);
  const sha256 = await verifyAndPlace(job, transfer, options.expectedSha256.toLowerCase(), destination);
  return { path: destination, bytes: expectedBytes, sha256, resumedFrom: transfer.resumedFrom, attempts };
}

/** Picks up what an earlier (killed or cancelled) run left, unless it cannot be a prefix of the file. */
async function resumePartial(job: DownloadJob, transfer: Transfer): Promise<void> {
  const existing = await fileSize(job.partial);
  if (existing !== null && existing > job.expectedBytes) {
    await discard(job);
  } else if (existing !== null && existing > 0) {
    try {
      transfer.have = await hashFileInto(transfer.hash, job.partial, job.signal);
    } catch (error) {
      if (job.signal?.aborted) throw cancelled(job.name, existing);
      throw error;
    }
  }
  transfer.resumedFrom = transfer.have;
}

/** Attempts until the file is complete; gives up after `maxRetries` attempts in a row that brought nothing. Returns the attempts made. */
async function transferWithRetries(job: DownloadJob, transfer: Transfer, maxRetries: number, retryDelayMs: number): Promise<number> {
  let attempts = 0;
  let failuresInARow = 0;
  let lastError: unknown;
  while (transfer.have < job.expectedBytes) {
    attempts += 1;
    const before = transfer.have;
    try {
      await attempt(job, transfer);
    } catch (error) {
      if (job.signal?.aborted) throw cancelled(job.name, (await fileSize(job.partial)) ?? 0);
      if (error instanceof EngineError) {
        await discard(job);
        throw error;
      }
      lastError = error;
    }
    if (transfer.have >= job.expectedBytes) break;
    failuresInARow = transfer.have > before ? 0 : failuresInARow + 1;
    if (failuresInARow > maxRetries || attempts > maxRetries + 1000) {
      const reason = lastError instanceof RetryableError ? { text: lastError.message, offline: false } : describeNetworkError(lastError);
      const tries = `${attempts} attempt${attempts === 1 ? '' : 's'}`;
      return failed(
        job,
        reason.offline
          ? `cannot reach ${hostOf(job.url)} to download ${job.label} (${reason.text}; ${tries})`
          : `cannot download ${job.label} from ${job.url}: ${reason.text} (${tries})`,
        lastError,
      );
    }
    try {
      await sleep(Math.min(30_000, retryDelayMs * 2 ** Math.max(0, failuresInARow - 1)), undefined, { signal: job.signal });
    } catch {
      throw cancelled(job.name, (await fileSize(job.partial)) ?? 0);
    }
  }
  return attempts;
}

/** One HTTP request; returns when the body has ended or throws (RetryableError or EngineError). */
async function attempt(job: DownloadJob, transfer: Transfer): Promise<void> {
  const controller = new AbortController();
  const combined = job.signal ? AbortSignal.any([job.signal, controller.signal]) : controller.signal;
  let stallTimer: NodeJS.Timeout | undefined;
  const armStallTimer = (): void => {
    if (stallTimer) clearTimeout(stallTimer);
    stallTimer = setTimeout(() => controller.abort(new RetryableError(`no data for ${Math.round(job.stallTimeoutMs / 1000)} s`)), job.stallTimeoutMs);
  };
  // A stall aborts through our controller: it surfaces as its RetryableError, not as the fetch's AbortError.
  const stallReason = (error: unknown): unknown => (controller.signal.aborted && !job.signal?.aborted ? controller.signal.reason : error);
  try {
    armStallTimer();
    const headers: Record<string, string> = { 'accept-encoding': 'identity', 'user-agent': 'reslens' };
    if (transfer.have > 0) headers.range = `bytes=${transfer.have}-`;
    let response: Response;
    try {
      response = await job.fetchImpl(job.url, { headers, signal: combined, redirect: 'follow' });
    } catch (error) {
      throw stallReason(error);
    }
    const where = response.url && response.url !== job.url ? `${job.url} (redirected to ${hostOf(response.url)})` : job.url;
    await acceptResponse(job, transfer, response, where);
    if (!response.body) throw new RetryableError(`empty response body from ${where}`);
    await writeBody(job, transfer, response.body, armStallTimer, stallReason);
  } finally {
    if (stallTimer) clearTimeout(stallTimer);
  }
}

/** Checks the status and the announced size against what we asked for; restarts from 0 where the server cannot resume. */
async function acceptResponse(job: DownloadJob, transfer: Transfer, response: Response, where: string): Promise<void> {
  const { have } = transfer;
  let total: number | null;
  if (response.status === 206) {
    const range = parseContentRange(response.headers.get('content-range'));
    if (!range || range.start !== have) {
      await response.body?.cancel().catch(() => undefined);
      transfer.restartFromZero();
      throw new RetryableError(`server answered range ${response.headers.get('content-range') ?? '(none)'} for a request from byte ${have}`);
    }
    total = range.total;
  } else if (response.status === 200) {
    // Either a fresh start, or a server that ignores Range and sends everything again.
    if (have > 0) transfer.restartFromZero();
    const length = response.headers.get('content-length');
    total = length !== null && /^\d+$/.test(length) ? Number(length) : null;
  } else if (response.status === 416 && have > 0) {
    // Our partial file reaches past the server's end: it cannot be a prefix of this file.
    await response.body?.cancel().catch(() => undefined);
    transfer.restartFromZero();
    throw new RetryableError(`server refused to resume from byte ${transfer.resumedFrom} (HTTP 416); starting again from 0`);
  } else {
    await response.body?.cancel().catch(() => undefined);
    const status = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
    if (RETRYABLE_STATUS.has(response.status)) throw new RetryableError(`${status} from ${where}`);
    throw new EngineError(ErrorCode.DOWNLOAD_FAILED, `cannot download ${job.label}: ${status} from ${where}. ${importHint(job.name, job.url)}`, job.item);
  }
  if (total !== null && total !== job.expectedBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw new EngineError(
      ErrorCode.CHECKSUM_MISMATCH,
      `cannot download ${job.label}: the server offers ${total} bytes but the catalog expects ${job.expectedBytes}; the file at ${job.url} is not the one the catalog describes`,
      job.item,
    );
  }
}

/** Streams the body into the partial file at the transfer's offset; each chunk re-arms the stall timer. */
async function writeBody(
  job: DownloadJob,
  transfer: Transfer,
  body: ReadableStream<Uint8Array>,
  armStallTimer: () => void,
  stallReason: (error: unknown) => unknown,
): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(job.partial, transfer.have > 0 ? 'r+' : 'w');
    const reader = body.getReader();
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (error) {
        throw stallReason(error);
      }
      if (chunk.done) break;
      const bytes = chunk.value;
      if (bytes.byteLength === 0) continue;
      armStallTimer();
      if (transfer.have + bytes.byteLength > job.expectedBytes) {
        await reader.cancel().catch(() => undefined);
        throw new EngineError(
          ErrorCode.CHECKSUM_MISMATCH,
          `cannot download ${job.label}: the server sent more than the expected ${job.expectedBytes} bytes; the file at ${job.url} is not the one the catalog describes`,
          job.item,
        );
      }
      await handle.write(bytes, 0, bytes.byteLength, transfer.have);
      transfer.add(bytes);
    }
    if (transfer.have < job.expectedBytes) throw new RetryableError(`connection closed after ${transfer.have} of ${job.expectedBytes} bytes`);
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** Checks size on disk and SHA-256, then renames the partial file into place; returns the hash. */
async function verifyAndPlace(job: DownloadJob, transfer: Transfer, expectedSha256: string, destination: string): Promise<string> {
  const sha256 = transfer.hash.digest('hex');
  const onDisk = await fileSize(job.partial);
  if (onDisk !== job.expectedBytes) {
    return failed(job, `cannot download ${job.label}: ${onDisk ?? 0} bytes on disk after the transfer, expected ${job.expectedBytes}`);
  }
  if (sha256 !== expectedSha256) {
    await discard(job);
    throw new EngineError(
      ErrorCode.CHECKSUM_MISMATCH,
      `checksum mismatch for ${job.label}: expected sha256 ${expectedSha256}, got ${sha256} (${job.expectedBytes} bytes from ${job.url}). The download was discarded; try again, or import a copy you trust`,
      job.item,
    );
  }
  await rename(job.partial, destination);
  return sha256;
}

/** SHA-256 and size of a file, streamed. */
export async function sha256File(file: string, signal?: AbortSignal): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  const bytes = await hashFileInto(hash, file, signal);
  return { sha256: hash.digest('hex'), bytes };
}
