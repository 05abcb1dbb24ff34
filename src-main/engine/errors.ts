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
  /** A FIFO, device, socket or folder where a regular file was expected (reading it could hang or never end). */
  NOT_A_FILE: 'NOT_A_FILE',
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
  // distributed batch (queue)
  QUEUE_UNAVAILABLE: 'QUEUE_UNAVAILABLE',
  MODEL_MISMATCH: 'MODEL_MISMATCH',
  PATH_NOT_ALLOWED: 'PATH_NOT_ALLOWED',
  WORKER_FAILED: 'WORKER_FAILED',
  // explanations: the model uses an operator whose backward pass ResLens cannot build
  GRADIENTS_UNSUPPORTED: 'GRADIENTS_UNSUPPORTED',
  // generic
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  CANCELLED: 'CANCELLED',
  /** The host's storage quota (browser-mode uploads) is used up. */
  QUOTA_EXCEEDED: 'QUOTA_EXCEEDED',
  /** Another live run holds the batch journal's lock. */
  JOURNAL_LOCKED: 'JOURNAL_LOCKED',
  /** More batches at once than the host allows. */
  BUSY: 'BUSY',
  // transports (produced in the app's page: src-renderer/lib/transport/, which imports only the contract)
  /** The connection to the engine dropped or could not be made (browser mode: the server stopped or restarted). */
  DISCONNECTED: 'DISCONNECTED',
  /** No answer within the request's time limit: the engine is gone or stuck. */
  TIMEOUT: 'TIMEOUT',
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
