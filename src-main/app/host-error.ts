// Errors the desktop host itself produces (as opposed to the engine's error values). They travel to
// the renderer as plain { code, message } values like every other error.
import type { ErrorValue } from '../api/contract.js';

export const HostErrorCode = {
  /** The message failed the contract's schema, size limit, or the channel's argument rules. */
  INVALID_REQUEST: 'INVALID_REQUEST',
  /** An id that this app never issued (or issued for another kind of thing). */
  NOT_GRANTED: 'NOT_GRANTED',
  /** The message did not come from the app's own page. */
  FORBIDDEN: 'FORBIDDEN',
  /** The engine process died while working on the request; it has been restarted. */
  ENGINE_CRASHED: 'ENGINE_CRASHED',
  /** The engine process kept crashing and is no longer restarted. */
  ENGINE_UNAVAILABLE: 'ENGINE_UNAVAILABLE',
  /** Writing an exported file failed. */
  WRITE_FAILED: 'WRITE_FAILED',
  /** A bug: anything else that was thrown. */
  INTERNAL: 'INTERNAL',
} as const;
export type HostErrorCode = (typeof HostErrorCode)[keyof typeof HostErrorCode];

export class HostError extends Error {
  constructor(
    readonly code: string,
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
    return { code: (error as ErrorValue).code, message: (error as ErrorValue).message };
  }
  return { code: HostErrorCode.INTERNAL, message: error instanceof Error ? error.message : String(error) };
}
