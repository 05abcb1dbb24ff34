// Browser mode's transport: contract requests and events over one WebSocket (MessagePack frames,
// see src-main/api/codec.ts), file uploads and the folder picker over HTTP. Every request carries
// the per-run token, kept in this tab's sessionStorage (the page cookie opens static files only).
import type {
  ClientMessage,
  EngineEvents,
  EventName,
  FolderEntry,
  HostApi,
  ImageId,
  RequestName,
  RequestParams,
  RequestResults,
  ReslensApi,
  ServerMessage,
} from '../../../src-main/api/contract.js';
import { decodeMessage, encodeMessage } from '../../../src-main/api/codec.js';
import { errorCodeOf } from '../../../src-main/api/vocabulary.js';
import { ApiError, type ConnectionState, type FolderBrowser, type FolderListing, type Transport } from './types.js';

const TOKEN_KEY = 'reslens.token';
/** How long a call waits for a dropped connection to come back before it fails (issue 15: never for ever). */
const CONNECT_WAIT_MS = 3000;
/**
 * What to do when the server is gone. A restarted `reslens serve` listens on a new port with a new
 * token, so this page can never reconnect to it: only the new address it printed works.
 */
export const SERVER_GONE_MESSAGE =
  'ResLens is not answering at this address. If its server stopped, start it again (reslens serve, or npm run serve) and open the new address it prints: each start has a new port and token, so this page cannot reconnect by itself.';

/** Takes the token from the address bar (then hides it there) or from this tab's session storage. */
function takeToken(): string {
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    try {
      sessionStorage.setItem(TOKEN_KEY, fromUrl);
      url.searchParams.delete('token');
      window.history.replaceState(null, '', url.pathname + (url.search === '?' ? '' : url.search) + url.hash);
    } catch {
      // storage disabled: keep the token in the URL so a reload still works
    }
    return fromUrl;
  }
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

async function httpError(response: Response): Promise<ApiError> {
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string } };
    if (body.error?.code) return new ApiError(errorCodeOf(body.error.code), body.error.message ?? response.statusText);
  } catch {
    // not JSON
  }
  return new ApiError(response.status === 401 ? 'UNAUTHORIZED' : 'HTTP_ERROR', `${response.status} ${response.statusText}`);
}

export function createBrowserTransport(): Transport {
  const token = takeToken();
  const headers = { 'X-Reslens-Token': token };
  const { api, connection } = connectSocket(token);
  const { folders, pickFolder } = createFolderBrowser(headers);
  return { api, host: createBrowserHost(headers, pickFolder), folders, connection };
}

/** The contract over one WebSocket: requests answered by id, events fanned out, reconnection with backoff. */
function connectSocket(token: string): Pick<Transport, 'api' | 'connection'> {
  const socket = new ContractSocket(token);
  socket.connect();
  const api: ReslensApi = {
    call: (method, params) => socket.call(method, params),
    on: (event, listener) => socket.on(event, listener),
  };
  return {
    api,
    connection: {
      get state() {
        return socket.state;
      },
      onChange: (listener) => socket.onStateChange(listener),
    },
  };
}

class ContractSocket {
  state: ConnectionState = 'connecting';
  private readonly pending: Waiters = new Map();
  private readonly listeners = new Map<EventName, Set<(payload: unknown) => void>>();
  private readonly stateListeners = new Set<(state: ConnectionState) => void>();
  private socket: WebSocket | undefined;
  private nextId = 1;
  private retryMs = 250;
  private markOpen: () => void = () => undefined;
  /** Calls made while (re)connecting wait for the socket. */
  private opened = this.waitForOpen();

  constructor(private readonly token: string) {}

  connect(): void {
    const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${window.location.host}/api/ws?token=${encodeURIComponent(this.token)}`);
    ws.binaryType = 'arraybuffer';
    this.socket = ws;
    ws.onopen = () => {
      this.retryMs = 250;
      this.setState('open');
      this.markOpen();
    };
    ws.onmessage = (event: MessageEvent<ArrayBuffer>) => deliver(event.data, this.listeners, this.pending);
    ws.onclose = () => this.dropped(ws);
  }

  /** A dropped socket fails the calls waiting on it, then reconnects with backoff (250 ms, doubling up to 4 s). */
  private dropped(ws: WebSocket): void {
    if (this.socket !== ws) return;
    this.socket = undefined;
    for (const [, waiter] of this.pending) waiter.reject(new ApiError('DISCONNECTED', `the connection to ResLens dropped. ${SERVER_GONE_MESSAGE}`));
    this.pending.clear();
    this.opened = this.waitForOpen();
    this.setState('reconnecting');
    setTimeout(() => this.connect(), this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, 4000);
  }

  private waitForOpen(): Promise<void> {
    return new Promise<void>((resolve) => (this.markOpen = resolve));
  }

  private setState(next: ConnectionState): void {
    if (this.state === next) return;
    this.state = next;
    for (const listener of this.stateListeners) listener(next);
  }

  onStateChange(listener: (state: ConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  async call<N extends RequestName>(method: N, params: RequestParams<N>): Promise<RequestResults[N]> {
    if (this.state !== 'open') await this.reconnected();
    const ws = this.socket;
    if (!ws || ws.readyState !== WebSocket.OPEN) throw new ApiError('DISCONNECTED', 'not connected to ResLens');
    const id = this.nextId++;
    const message: ClientMessage = { kind: 'request', id, method, params };
    return new Promise<RequestResults[N]>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      ws.send(encodeMessage(message) as Uint8Array<ArrayBuffer>);
    });
  }

  /** Waits up to CONNECT_WAIT_MS for the socket to (re)open; throws DISCONNECTED when it does not. */
  private async reconnected(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const connected = await Promise.race([
      this.opened.then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), CONNECT_WAIT_MS))),
    ]);
    clearTimeout(timer);
    if (!connected) throw new ApiError('DISCONNECTED', SERVER_GONE_MESSAGE);
  }

  on<E extends EventName>(event: E, listener: (payload: EngineEvents[E]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    const wrapped = listener as (payload: unknown) => void;
    set.add(wrapped);
    return () => set.delete(wrapped);
  }
}

type Waiters = Map<number, { resolve(value: unknown): void; reject(error: Error): void }>;

/** One server message: an event to its listeners (one failing listener does not stop the others), or an answer to its waiting call. */
function deliver(data: ArrayBuffer, listeners: Map<EventName, Set<(payload: unknown) => void>>, pending: Waiters): void {
  let message: ServerMessage;
  try {
    message = decodeMessage(data) as ServerMessage;
  } catch (error) {
    console.error('ResLens: undecodable message from the server', error);
    return;
  }
  if (message.kind === 'event') {
    for (const listener of listeners.get(message.event) ?? []) {
      try {
        listener(message.payload);
      } catch (error) {
        console.error(`ResLens: ${message.event} listener failed`, error);
      }
    }
    return;
  }
  const waiter = pending.get(message.id);
  if (!waiter) return;
  pending.delete(message.id);
  if (message.ok) waiter.resolve(message.result);
  else waiter.reject(new ApiError(message.error.code, message.error.message));
}

/** The server's folder listing (the browser cannot open a native picker); the app sets the picker dialog. */
function createFolderBrowser(headers: Record<string, string>): { folders: FolderBrowser; pickFolder: () => Promise<FolderEntry | null> } {
  let picker: () => Promise<FolderEntry | null> = async () => null;
  const folders: FolderBrowser = {
    async list(folder?: string): Promise<FolderListing> {
      const response = await fetch(`/api/folders${folder ? `?folder=${encodeURIComponent(folder)}` : ''}`, { headers, cache: 'no-store' });
      if (!response.ok) throw await httpError(response);
      return (await response.json()) as FolderListing;
    },
    async create(parent: string, name: string): Promise<FolderEntry> {
      const response = await fetch(`/api/folders?parent=${encodeURIComponent(parent)}&name=${encodeURIComponent(name)}`, { method: 'POST', headers });
      if (!response.ok) throw await httpError(response);
      return (await response.json()) as FolderEntry;
    },
    setPicker(next) {
      picker = next;
    },
  };

  return { folders, pickFolder: () => picker() };
}

/** What the desktop app's host does natively, over HTTP: uploads in place of paths, downloads in place of save dialogs. */
function createBrowserHost(headers: Record<string, string>, pickFolder: () => Promise<FolderEntry | null>): HostApi {
  return {
    kind: 'browser',
    async addFiles(files: File[]): Promise<{ image: ImageId; name: string }[]> {
      const added: { image: ImageId; name: string }[] = [];
      for (const file of files) {
        let response: Response;
        try {
          response = await fetch(`/api/upload?name=${encodeURIComponent(file.name)}`, {
            method: 'POST',
            body: file,
            headers: { ...headers, 'Content-Type': 'application/octet-stream' },
          });
        } catch (error) {
          throw new ApiError('UPLOAD_FAILED', `could not upload ${file.name}: ${(error as Error).message}`);
        }
        if (!response.ok) throw await httpError(response);
        added.push((await response.json()) as { image: ImageId; name: string });
      }
      return added;
    },
    releaseImages(images: ImageId[]): void {
      // Frees the server's upload quota (issue 14 #3); a failure only means the space is freed at stop.
      if (images.length === 0) return;
      const query = images.map((image) => `image=${encodeURIComponent(image)}`).join('&');
      void fetch(`/api/upload?${query}`, { method: 'DELETE', headers }).catch(() => undefined);
    },
    pickFolder,
    async saveFile(fileName: string, data: Uint8Array): Promise<void> {
      const blob = new Blob([data as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' });
      const url = URL.createObjectURL(blob);
      const link = document.createElement('a');
      link.href = url;
      link.download = fileName;
      link.rel = 'noopener';
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    },
  };
}
