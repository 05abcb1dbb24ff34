// Errors the desktop host itself produces (as opposed to the engine's error values). They travel to
// the renderer as plain { code, message } values like every other error.
// The codes are the vocabulary's (engine/core/vocabulary.ts documents each); this is the desktop host's share.
import type { ErrorValue } from '../api/contract.js';
import { ErrorCode, errorCodeOf } from '../engine/index.js';

export const HostErrorCode = {
  INVALID_REQUEST: ErrorCode.INVALID_REQUEST,
  NOT_GRANTED: ErrorCode.NOT_GRANTED,
  FORBIDDEN: ErrorCode.FORBIDDEN,
  ENGINE_CRASHED: ErrorCode.ENGINE_CRASHED,
  ENGINE_UNAVAILABLE: ErrorCode.ENGINE_UNAVAILABLE,
  WRITE_FAILED: ErrorCode.WRITE_FAILED,
  INTERNAL: ErrorCode.INTERNAL,
} as const;
export type HostErrorCode = (typeof HostErrorCode)[keyof typeof HostErrorCode];

export class HostError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'HostError';
  }

  toValue(): ErrorValue {
    return { code: this.code, message: this.message };
  }
}

/** Any thrown value as an error value for the renderer. */
export function toErrorValue(error: unknown): ErrorValue {
  if (error instanceof HostError) return error.toValue();
  if (typeof error === 'object' && error !== null && typeof (error as ErrorValue).code === 'string' && typeof (error as ErrorValue).message === 'string') {
    const value = error as ErrorValue;
    return { code: errorCodeOf(value.code), message: value.message, ...(value.hint ? { hint: value.hint } : {}) };
  }
  return { code: HostErrorCode.INTERNAL, message: error instanceof Error ? error.message : String(error) };
}
