// The preload: the only code in the renderer process that can reach main. It exposes exactly
// `window.reslens = { api: ReslensApi, host: HostApi }` and nothing else: no ipcRenderer, no
// generic send/invoke, no channel names. Sandboxed (CommonJS, `require('electron')` only), so it
// bundles channels.ts (constants) and type-only imports, nothing that runs Node code.
//
// Errors reject as plain { code, message } values: contextBridge copies an Error's message only,
// and the UI needs the code.
import { type IpcRendererEvent, contextBridge, ipcRenderer, webUtils } from 'electron';
import type { ErrorValue, EventName, HostApi, HostCommand, RequestName, RequestParams, RequestResults, ReslensApi } from '../../api/contract.js';
import { EVENT_NAMES, type EventMessage, type InvokeChannel, type InvokeChannels, type IpcReply } from '../channels.js';

async function invoke<C extends InvokeChannel>(channel: C, ...args: InvokeChannels[C]['args']): Promise<InvokeChannels[C]['result']> {
  const reply = (await ipcRenderer.invoke(channel, ...args)) as IpcReply<InvokeChannels[C]['result']>;
  if (reply.ok) return reply.result;
  const error: ErrorValue = { code: reply.error.code, message: reply.error.message };
  throw error;
}

/** The file's path on disk, or '' for a File that has none (made by page script, or not a File at all). */
function pathOf(file: File): string {
  try {
    return webUtils.getPathForFile(file);
  } catch {
    return '';
  }
}

let nextId = 1;

const api: ReslensApi = {
  call<N extends RequestName>(method: N, params: RequestParams<N>): Promise<RequestResults[N]> {
    return invoke('reslens:request', { kind: 'request', id: nextId++, method, params }) as Promise<RequestResults[N]>;
  },
  on(event, listener) {
    if (!(EVENT_NAMES as readonly string[]).includes(event)) throw new Error(`unknown event: ${String(event)}`);
    if (typeof listener !== 'function') throw new Error('listener must be a function');
    const handler = (_event: IpcRendererEvent, message: EventMessage) => {
      if (message?.event === (event as EventName)) (listener as (payload: unknown) => void)(message.payload);
    };
    ipcRenderer.on('reslens:event', handler);
    return () => {
      ipcRenderer.removeListener('reslens:event', handler);
    };
  },
};

const host: HostApi = {
  kind: 'electron',
  async addFiles(files) {
    // Only files the user dropped or chose in a file input have a path; a File made by page
    // script (new File([...], 'x.jpg')) has none and is ignored.
    const paths: string[] = [];
    for (const file of Array.isArray(files) ? files : []) {
      const filePath = pathOf(file);
      if (filePath) paths.push(filePath);
    }
    if (paths.length === 0) return [];
    const { granted, refused } = await invoke('reslens:add-paths', paths);
    if (refused.length > 0) console.warn(`ResLens: ${refused.length} file(s) not added: ${refused.map((r) => `${r.name}: ${r.reason}`).join('; ')}`);
    return granted;
  },
  pickFolder() {
    return invoke('reslens:pick-folder');
  },
  async saveFile(fileName, data) {
    await invoke('reslens:save-file', fileName, data);
  },
  async showResult(batch, index) {
    await invoke('reslens:show-result', batch, index);
  },
  onCommand(listener) {
    if (typeof listener !== 'function') throw new Error('listener must be a function');
    const handler = (_event: IpcRendererEvent, command: HostCommand) => listener(command);
    ipcRenderer.on('reslens:command', handler);
    return () => {
      ipcRenderer.removeListener('reslens:command', handler);
    };
  },
};

contextBridge.exposeInMainWorld('reslens', { api, host });
