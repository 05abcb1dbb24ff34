// STAND-INS FOR THE ELECTRON BINARY, which is not available where these tests run (the electron
// npm package downloads it from GitHub on first use). They are the only fakes in the desktop-shell
// tests and model exactly the boundary Electron provides: ipcMain/ipcRenderer (messages are
// structured-cloned, every handler sees the sender's frame), the native dialogs, and the
// `electron` module a sandboxed preload can require. Everything behind them is the real code.
import type { IpcReply } from '../../src-main/app/channels.js';
import type { Dialogs, IpcEventLike, IpcMainLike } from '../../src-main/app/ipc-main.js';

export type FrameLike = { url: string; parent: unknown } | null;

/** Electron's ipcMain, as the handlers see it. `invoke` is ipcRenderer.invoke from a frame. */
export class ElectronIpcMainStandIn implements IpcMainLike {
  private readonly handlers = new Map<string, (event: IpcEventLike, ...args: unknown[]) => unknown>();
  handle(channel: string, listener: (event: IpcEventLike, ...args: unknown[]) => unknown): void {
    if (this.handlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
    this.handlers.set(channel, listener);
  }
  removeHandler(channel: string): void {
    this.handlers.delete(channel);
  }
  channels(): string[] {
    return [...this.handlers.keys()];
  }
  async invoke(channel: string, frame: FrameLike, ...args: unknown[]): Promise<IpcReply<unknown>> {
    const handler = this.handlers.get(channel);
    // Electron rejects an invoke on a channel without a handler.
    if (!handler) throw new Error(`Error invoking remote method '${channel}': Error: No handler registered for '${channel}'`);
    return structuredClone((await handler({ senderFrame: frame }, ...structuredClone(args))) as IpcReply<unknown>);
  }
}

/** Electron's native dialogs: they answer what the test says the user chose. */
export class ElectronDialogsStandIn implements Dialogs {
  openImagesAnswer: string[] = [];
  openFolderAnswer: string | null = null;
  saveAnswer: string | null = null;
  saveDefaultNames: string[] = [];
  async openImages() {
    return this.openImagesAnswer;
  }
  async openFolder() {
    return this.openFolderAnswer;
  }
  async saveFile(defaultName: string) {
    this.saveDefaultNames.push(defaultName);
    return this.saveAnswer;
  }
}

/** A File as the renderer has it: dropped/chosen files carry a path (only Electron can tell), page-made ones do not. */
export interface StandInFile {
  name: string;
  /** What webUtils.getPathForFile returns: '' for a File built by page script. */
  nativePath: string;
}

/**
 * The `electron` module as a sandboxed preload sees it (contextBridge, ipcRenderer, webUtils),
 * wired to an ipcMain stand-in as the given frame. `exposed` records what the preload put on window.
 */
export function electronPreloadModuleStandIn(ipcMain: ElectronIpcMainStandIn, frame: FrameLike) {
  const exposed: Record<string, unknown> = {};
  const listeners = new Map<string, Set<(event: unknown, payload: unknown) => void>>();
  const module = {
    contextBridge: {
      exposeInMainWorld(key: string, api: unknown) {
        if (key in exposed) throw new Error(`Cannot bind an API on top of an existing property on the window object`);
        exposed[key] = api;
      },
    },
    ipcRenderer: {
      invoke: (channel: string, ...args: unknown[]) => ipcMain.invoke(channel, frame, ...args),
      on(channel: string, listener: (event: unknown, payload: unknown) => void) {
        if (!listeners.has(channel)) listeners.set(channel, new Set());
        listeners.get(channel)?.add(listener);
        return module.ipcRenderer;
      },
      removeListener(channel: string, listener: (event: unknown, payload: unknown) => void) {
        listeners.get(channel)?.delete(listener);
        return module.ipcRenderer;
      },
    },
    webUtils: {
      getPathForFile: (file: StandInFile) => file.nativePath,
    },
  };
  /** webContents.send from main: what the preload's listeners receive. */
  const send = (channel: string, payload: unknown) => {
    for (const listener of listeners.get(channel) ?? []) listener({}, structuredClone(payload));
  };
  const listenerCount = (channel: string) => listeners.get(channel)?.size ?? 0;
  return { module, exposed, send, listenerCount };
}
