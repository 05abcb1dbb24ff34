// Downloads one file over HTTP(S) into a partial file, resuming with Range requests after a dropped
// connection (and across processes), hashing as it goes, and moves it into place only once its size
// and SHA-256 are right. Uses Node's fetch: redirects are followed (GitHub's raw URLs redirect to the
// LFS media host), and the AbortSignal cancels the transfer at any point.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EngineError, ErrorCode } from '../errors.js';
import { fileSize } from '../files.js';
import { RateMeter } from '../rate.js';

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
  const expectedSha256 = options.expectedSha256.toLowerCase();
  const fetchImpl: FetchLike = options.fetchImpl ?? ((input, init) => fetch(input, init));
  const label = name ?? path.basename(destination);
  const item = { ...(name === undefined ? {} : { item: name }), hint: { actions: ['import' as const], ...(name === undefined ? {} : { model: name }) } };

  if (signal?.aborted) throw cancelled(name, 0);
  await mkdir(path.dirname(partial), { recursive: true });
  await mkdir(path.dirname(destination), { recursive: true });

  const discard = async (): Promise<void> => {
    await rm(partial, { force: true });
  };
  const failed = async (message: string, cause?: unknown): Promise<never> => {
    await discard();
    throw new EngineError(ErrorCode.DOWNLOAD_FAILED, `${message}. ${importHint(name, url)}`, { ...item, cause });
  };

  // Pick up what an earlier (killed or cancelled) run left, unless it cannot be a prefix of the file.
  let hash = createHash('sha256');
  let have = 0;
  const existing = await fileSize(partial);
  if (existing !== null && existing > expectedBytes) {
    await discard();
  } else if (existing !== null && existing > 0) {
    try {
      have = await hashFileInto(hash, partial, signal);
    } catch (error) {
      if (signal?.aborted) throw cancelled(name, existing);
      throw error;
    }
  }
  const resumedFrom = have;

  // Bytes per second over the last 3 s: a download's rate changes faster than a batch's.
  const meter = new RateMeter(3000);
  meter.restart();
  let lastEmit = -Infinity;
  const emit = (force = false): void => {
    if (!onProgress) return;
    const now = performance.now();
    if (!force && now - lastEmit < progressIntervalMs) return;
    lastEmit = now;
    onProgress({ received: have, total: expectedBytes, bytesPerSecond: meter.rate() });
  };
  const restartFromZero = (): void => {
    hash = createHash('sha256');
    have = 0;
    meter.restart();
  };
  emit(true);

  /** One HTTP request; returns when the body has ended or throws (RetryableError or EngineError). */
  const attempt = async (): Promise<void> => {
    const controller = new AbortController();
    const combined = signal ? AbortSignal.any([signal, controller.signal]) : controller.signal;
    let stallTimer: NodeJS.Timeout | undefined;
    const armStallTimer = (): void => {
      if (stallTimer) clearTimeout(stallTimer);
      stallTimer = setTimeout(() => controller.abort(new RetryableError(`no data for ${Math.round(stallTimeoutMs / 1000)} s`)), stallTimeoutMs);
    };
    let handle: FileHandle | undefined;
    try {
      armStallTimer();
      const headers: Record<string, string> = { 'accept-encoding': 'identity', 'user-agent': 'reslens' };
      if (have > 0) headers.range = `bytes=${have}-`;
      let response: Response;
      try {
        response = await fetchImpl(url, { headers, signal: combined, redirect: 'follow' });
      } catch (error) {
        if (controller.signal.aborted && !signal?.aborted) throw controller.signal.reason;
        throw error;
      }
      const where = response.url && response.url !== url ? `${url} (redirected to ${hostOf(response.url)})` : url;

      let total: number | null = null;
      if (response.status === 206) {
        const range = parseContentRange(response.headers.get('content-range'));
        if (!range || range.start !== have) {
          await response.body?.cancel().catch(() => undefined);
          restartFromZero();
          throw new RetryableError(`server answered range ${response.headers.get('content-range') ?? '(none)'} for a request from byte ${have}`);
        }
        total = range.total;
      } else if (response.status === 200) {
        // Either a fresh start, or a server that ignores Range and sends everything again.
        if (have > 0) restartFromZero();
        const length = response.headers.get('content-length');
        total = length !== null && /^\d+$/.test(length) ? Number(length) : null;
      } else if (response.status === 416 && have > 0) {
        // Our partial file reaches past the server's end: it cannot be a prefix of this file.
        await response.body?.cancel().catch(() => undefined);
        restartFromZero();
        throw new RetryableError(`server refused to resume from byte ${resumedFrom} (HTTP 416); starting again from 0`);
      } else {
        await response.body?.cancel().catch(() => undefined);
        const status = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
        if (RETRYABLE_STATUS.has(response.status)) throw new RetryableError(`${status} from ${where}`);
        throw new EngineError(ErrorCode.DOWNLOAD_FAILED, `cannot download ${label}: ${status} from ${where}. ${importHint(name, url)}`, item);
      }
      if (total !== null && total !== expectedBytes) {
        await response.body?.cancel().catch(() => undefined);
        throw new EngineError(
          ErrorCode.CHECKSUM_MISMATCH,
          `cannot download ${label}: the server offers ${total} bytes but the catalog expects ${expectedBytes}; the file at ${url} is not the one the catalog describes`,
          item,
        );
      }
      if (!response.body) throw new RetryableError(`empty response body from ${where}`);

      handle = await open(partial, have > 0 ? 'r+' : 'w');
      const reader = response.body.getReader();
      for (;;) {
        let chunk: Awaited<ReturnType<typeof reader.read>>;
        try {
          chunk = await reader.read();
        } catch (error) {
          if (controller.signal.aborted && !signal?.aborted) throw controller.signal.reason;
          throw error;
        }
        if (chunk.done) break;
        const bytes = chunk.value;
        if (bytes.byteLength === 0) continue;
        armStallTimer();
        if (have + bytes.byteLength > expectedBytes) {
          await reader.cancel().catch(() => undefined);
          throw new EngineError(
            ErrorCode.CHECKSUM_MISMATCH,
            `cannot download ${label}: the server sent more than the expected ${expectedBytes} bytes; the file at ${url} is not the one the catalog describes`,
            item,
          );
        }
        await handle.write(bytes, 0, bytes.byteLength, have);
        hash.update(bytes);
        have += bytes.byteLength;
        meter.add(bytes.byteLength);
        emit();
      }
      if (have < expectedBytes) throw new RetryableError(`connection closed after ${have} of ${expectedBytes} bytes`);
    } finally {
      if (stallTimer) clearTimeout(stallTimer);
      await handle?.close().catch(() => undefined);
    }
  };

  let attempts = 0;
  let failuresInARow = 0;
  let lastError: unknown;
  while (have < expectedBytes) {
    attempts += 1;
    const before = have;
    try {
      await attempt();
    } catch (error) {
      if (signal?.aborted) throw cancelled(name, await fileSize(partial) ?? 0);
      if (error instanceof EngineError) {
        await discard();
        throw error;
      }
      lastError = error;
    }
    if (have >= expectedBytes) break;
    failuresInARow = have > before ? 0 : failuresInARow + 1;
    if (failuresInARow > maxRetries || attempts > maxRetries + 1000) {
      const reason = lastError instanceof RetryableError ? { text: lastError.message, offline: false } : describeNetworkError(lastError);
      const tries = `${attempts} attempt${attempts === 1 ? '' : 's'}`;
      return failed(
        reason.offline
          ? `cannot reach ${hostOf(url)} to download ${label} (${reason.text}; ${tries})`
          : `cannot download ${label} from ${url}: ${reason.text} (${tries})`,
        lastError,
      );
    }
    try {
      await sleep(Math.min(30_000, retryDelayMs * 2 ** Math.max(0, failuresInARow - 1)), undefined, { signal });
    } catch {
      throw cancelled(name, await fileSize(partial) ?? 0);
    }
  }

  emit(true);
  const sha256 = hash.digest('hex');
  const onDisk = await fileSize(partial);
  if (onDisk !== expectedBytes) {
    return failed(`cannot download ${label}: ${onDisk ?? 0} bytes on disk after the transfer, expected ${expectedBytes}`);
  }
  if (sha256 !== expectedSha256) {
    await discard();
    throw new EngineError(
      ErrorCode.CHECKSUM_MISMATCH,
      `checksum mismatch for ${label}: expected sha256 ${expectedSha256}, got ${sha256} (${expectedBytes} bytes from ${url}). The download was discarded; try again, or import a copy you trust`,
      item,
    );
  }
  await rename(partial, destination);
  return { path: destination, bytes: expectedBytes, sha256, resumedFrom, attempts };
}

/** SHA-256 and size of a file, streamed. */
export async function sha256File(file: string, signal?: AbortSignal): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  const bytes = await hashFileInto(hash, file, signal);
  return { sha256: hash.digest('hex'), bytes };
}
