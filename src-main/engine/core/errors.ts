// Errors are values: a stable code, a message for people, and the item they belong to.

// The codes are the vocabulary's (one list for the engine, the hosts and the renderer).
import { type ErrorHint, type ErrorCode } from './vocabulary.js';

/** The plain-data form that crosses every boundary (CLI JSON, IPC, WebSocket). */
export interface ErrorInfo {
  code: ErrorCode;
  message: string;
  item?: string;
  /** What the user can do about it, as data: each host words it (a CLI flag, a button). */
  hint?: ErrorHint;
}

export class EngineError extends Error {
  readonly code: ErrorCode;
  readonly item?: string;
  readonly hint?: ErrorHint;

  constructor(code: ErrorCode, message: string, options?: { item?: string; cause?: unknown; hint?: ErrorHint }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EngineError';
    this.code = code;
    this.item = options?.item;
    this.hint = options?.hint;
  }

  toInfo(): ErrorInfo {
    return {
      code: this.code,
      message: this.message,
      ...(this.item === undefined ? {} : { item: this.item }),
      ...(this.hint === undefined ? {} : { hint: this.hint }),
    };
  }
}

/** Any thrown value as an ErrorInfo; unknown errors keep their message under the fallback code. */
export function toErrorInfo(error: unknown, fallback: ErrorCode, item?: string): ErrorInfo {
  if (error instanceof EngineError) return { ...error.toInfo(), ...(item !== undefined && error.item === undefined ? { item } : {}) };
  const message = error instanceof Error ? error.message : String(error);
  return item === undefined ? { code: fallback, message } : { code: fallback, message, item };
}
