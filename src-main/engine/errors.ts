// Errors are values: a stable code, a message for people, and the item they belong to.

export const ErrorCode = {
  // files and images
  FILE_NOT_FOUND: 'FILE_NOT_FOUND',
  READ_FAILED: 'READ_FAILED',
  EMPTY_FILE: 'EMPTY_FILE',
  NOT_AN_IMAGE: 'NOT_AN_IMAGE',
  UNSUPPORTED_FORMAT: 'UNSUPPORTED_FORMAT',
  DECODE_FAILED: 'DECODE_FAILED',
  IMAGE_TOO_LARGE: 'IMAGE_TOO_LARGE',
  SYMLINK_LOOP: 'SYMLINK_LOOP',
  // models
  MODEL_NOT_FOUND: 'MODEL_NOT_FOUND',
  INVALID_MODEL: 'INVALID_MODEL',
  UNSUPPORTED_MODEL: 'UNSUPPORTED_MODEL',
  DOWNLOAD_FAILED: 'DOWNLOAD_FAILED',
  CHECKSUM_MISMATCH: 'CHECKSUM_MISMATCH',
  LABELS_INVALID: 'LABELS_INVALID',
  // inference
  EP_UNAVAILABLE: 'EP_UNAVAILABLE',
  INFERENCE_FAILED: 'INFERENCE_FAILED',
  // explanations: the model uses an operator whose backward pass ResLens cannot build
  GRADIENTS_UNSUPPORTED: 'GRADIENTS_UNSUPPORTED',
  // generic
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  CANCELLED: 'CANCELLED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The plain-data form that crosses every boundary (CLI JSON, IPC, WebSocket). */
export interface ErrorInfo {
  code: ErrorCode;
  message: string;
  item?: string;
}

export class EngineError extends Error {
  readonly code: ErrorCode;
  readonly item?: string;

  constructor(code: ErrorCode, message: string, options?: { item?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EngineError';
    this.code = code;
    this.item = options?.item;
  }

  toInfo(): ErrorInfo {
    return this.item === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, item: this.item };
  }
}

/** Any thrown value as an ErrorInfo; unknown errors keep their message under the fallback code. */
export function toErrorInfo(error: unknown, fallback: ErrorCode, item?: string): ErrorInfo {
  if (error instanceof EngineError) return { ...error.toInfo(), ...(item !== undefined && error.item === undefined ? { item } : {}) };
  const message = error instanceof Error ? error.message : String(error);
  return item === undefined ? { code: fallback, message } : { code: fallback, message, item };
}
