// Redis connections for the queue: one place that turns the user's --queue URL into ioredis clients.
// redis://[:password@]host[:port][/db] and rediss:// (TLS) are ioredis' own URL forms; the password
// never appears in a message (redactUrl). Reachability is checked once, up front, with a bounded
// timeout and no retries, so a wrong URL fails in seconds with one line instead of ioredis retrying
// for ever; after that, BullMQ's connections retry without limit (a Redis restart mid-run is waited
// out, not fatal).
import { Redis, type RedisOptions } from 'ioredis';
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';

/** Longest wait for the first answer from Redis (the bound is 20 s for the whole command). */
export const CONNECT_TIMEOUT_MS = 10_000;

/** The URL with its password (and user) replaced, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return '<unparsable queue URL>';
  }
}

/** Validates a --queue URL: redis:// or rediss:// with a host. Throws INVALID_ARGUMENT otherwise. */
export function checkQueueUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new EngineError(ErrorCode.INVALID_ARGUMENT, `not a queue URL: expected redis://[:password@]host[:port][/db] or rediss://… (TLS)`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')
    throw new EngineError(ErrorCode.INVALID_ARGUMENT, `queue URL ${redactUrl(url)}: the scheme must be redis:// or rediss:// (TLS)`);
  if (!parsed.hostname) throw new EngineError(ErrorCode.INVALID_ARGUMENT, `queue URL ${redactUrl(url)} names no host`);
}

/** A client for BullMQ: retries for ever (BullMQ requires maxRetriesPerRequest null). */
export function queueClient(url: string, extra: RedisOptions = {}): Redis {
  checkQueueUrl(url);
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, connectionName: 'reslens', ...extra });
}

/**
 * Connects once and PINGs, with no retry: resolves when Redis answers, throws QUEUE_UNAVAILABLE with
 * the reason (refused, timeout, auth, TLS) otherwise.
 */
export async function checkQueueReachable(url: string, timeoutMs = CONNECT_TIMEOUT_MS): Promise<void> {
  checkQueueUrl(url);
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    commandTimeout: timeoutMs,
  });
  let lastError: Error | undefined;
  client.on('error', (error: Error) => (lastError = error));
  const timer = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs).unref());
  try {
    await Promise.race([client.connect().then(() => client.ping()), timer]);
  } catch (error) {
    const reason = (lastError ?? (error as Error)).message.replace(/\s+/g, ' ');
    throw new EngineError(ErrorCode.QUEUE_UNAVAILABLE, `cannot reach the queue at ${redactUrl(url)}: ${reason}`);
  } finally {
    client.disconnect();
  }
}
