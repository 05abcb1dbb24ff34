import { createBrowserTransport } from './browser.js';
import type { Transport } from './types.js';

/** The desktop app's bridge when present, browser mode's WebSocket transport otherwise. */
export function createTransport(): Transport {
  const bridged = window.reslens;
  if (bridged && bridged.api && bridged.host) return { api: bridged.api, host: bridged.host };
  return createBrowserTransport();
}

export { ApiError, toErrorValue } from './types.js';
export type { ConnectionState, FolderBrowser, FolderListing, Transport } from './types.js';
