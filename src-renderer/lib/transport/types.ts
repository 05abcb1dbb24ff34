// The renderer's only way to the engine: an object implementing the contract's ReslensApi (engine
// calls and events) and HostApi (files, folders, saving). Electron's preload exposes exactly
// `{ api, host }` as window.reslens; browser mode builds one over WebSocket + HTTP.
import type { ErrorValue, FolderEntry, FolderListing, HostApi, ReslensApi } from '../../../src-main/api/contract.js';
import { ErrorCode, errorCodeOf } from '../../../src-main/api/vocabulary.js';

export type ConnectionState = 'connecting' | 'open' | 'reconnecting';

export type { FolderListing } from '../../../src-main/api/contract.js';

/** Browser mode's folder picker runs in the page: the transport lists folders on the serving machine. */
export interface FolderBrowser {
  list(folder?: string): Promise<FolderListing>;
  create(parent: string, name: string): Promise<FolderEntry>;
  /** The page's picker dialog, installed by the UI; HostApi.pickFolder() opens it. */
  setPicker(picker: () => Promise<FolderEntry | null>): void;
}

export interface Transport {
  api: ReslensApi;
  host: HostApi;
  /** Browser mode only: the socket can drop and come back (the page then refreshes what it shows). */
  connection?: {
    readonly state: ConnectionState;
    onChange(listener: (state: ConnectionState) => void): () => void;
  };
  folders?: FolderBrowser;
}

declare global {
  interface Window {
    /** Set by the desktop app's preload (contextBridge). */
    reslens?: { api: ReslensApi; host: HostApi };
  }
}

/** An error from the engine or the host, with the contract's code. */
export class ApiError extends Error implements ErrorValue {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Any rejection as an error value: ApiError keeps its code; errors that crossed contextBridge keep only a message. */
export function toErrorValue(error: unknown): ErrorValue {
  if (error && typeof error === 'object' && typeof (error as { code?: unknown }).code === 'string') {
    const hint = (error as Partial<ErrorValue>).hint;
    return { code: errorCodeOf((error as { code: string }).code), message: String((error as { message?: unknown }).message ?? ''), ...(hint ? { hint } : {}) };
  }
  const message = error instanceof Error ? error.message : String(error);
  // Electron's ipcRenderer.invoke wraps errors as "Error invoking remote method 'x': CODE: message".
  const match = /(?:^|: )([A-Z][A-Z0-9_]{2,}): (.*)$/s.exec(message);
  return match ? { code: errorCodeOf(match[1]!), message: match[2]! } : { code: ErrorCode.INTERNAL, message };
}
