import { createBrowserTransport } from './browser.js';
import { withTimeouts } from './timeouts.js';
import type { Transport } from './types.js';

/** The desktop app's bridge when present, browser mode's WebSocket transport otherwise; either way no call waits for ever (timeouts.ts). */
export function createTransport(): Transport {
  const bridged = window.reslens;
  if (bridged && bridged.api && bridged.host) return { api: withTimeouts(bridged.api), host: bridged.host };
  const browser = createBrowserTransport();
  return { ...browser, api: withTimeouts(browser.api) };
}

export { ApiError, toErrorValue } from './types.js';
export type { ConnectionState, FolderBrowser, FolderListing, Transport } from './types.js';
