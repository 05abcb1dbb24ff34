// Every IPC channel between the renderer (through the preload) and the main process, declared once
// (GitHub Desktop's ipc-shared pattern): name → argument and reply types. The preload and the main
// process both import this module, so a channel cannot be renamed or retyped on one side only.
//
// Pure constants and types: the sandboxed preload bundles this file, so it must not import anything
// at run time (no zod, no Node modules).
import type { ClientMessage, EngineEvents, ErrorValue, EventName, FolderEntry, HostCommand, ImageId } from '../api/contract.js';

export type { HostCommand };

/** Every reply on an invoke channel: a value, or an error value (never a thrown Error: contextBridge would strip its code). */
export type IpcReply<T> = { ok: true; result: T } | { ok: false; error: ErrorValue };

/** A file main accepted from `addFiles`, and one it refused (with the reason, for the console). */
export interface GrantedImage {
  image: ImageId;
  name: string;
}
export interface RefusedPath {
  name: string;
  reason: string;
}

/** Renderer → main, request/response (ipcRenderer.invoke ↔ ipcMain.handle). */
export interface InvokeChannels {
  /** One engine request in the contract's envelope; validated in main before the engine sees it. */
  'reslens:request': { args: [message: ClientMessage]; result: unknown };
  /** Paths of files the user dropped or chose (webUtils.getPathForFile in the preload) → image ids. */
  'reslens:add-paths': { args: [paths: string[]]; result: { granted: GrantedImage[]; refused: RefusedPath[] } };
  /** Native folder dialog → a folder id, or null when cancelled. */
  'reslens:pick-folder': { args: []; result: FolderEntry | null };
  /** Native save dialog, then main writes the bytes. `saved` is false when the user cancelled. */
  'reslens:save-file': { args: [fileName: string, data: Uint8Array]; result: { saved: boolean; path?: string } };
  /** "Show in folder" for a batch result, named by run and row (never a path); main finds the file in the engine's rows. */
  'reslens:show-result': { args: [batch: string, index: number]; result: { shown: boolean } };
}
export type InvokeChannel = keyof InvokeChannels;

/** An engine event as it travels main → renderer. */
export type EventMessage = { [E in EventName]: { event: E; payload: EngineEvents[E] } }[EventName];

/** Main → renderer, one way (webContents.send ↔ ipcRenderer.on). */
export interface PushChannels {
  'reslens:event': EventMessage;
  'reslens:command': HostCommand;
}
export type PushChannel = keyof PushChannels;

export const INVOKE_CHANNELS = [
  'reslens:request',
  'reslens:add-paths',
  'reslens:pick-folder',
  'reslens:save-file',
  'reslens:show-result',
] as const satisfies readonly InvokeChannel[];
export const PUSH_CHANNELS = ['reslens:event', 'reslens:command'] as const satisfies readonly PushChannel[];

/** The engine events a renderer may subscribe to (the preload refuses any other name). */
export const EVENT_NAMES = [
  'model.progress',
  'engine.status',
  'batch.progress',
  'batch.rows',
  'lesion.progress',
  'explain.progress',
] as const satisfies readonly EventName[];

// Compile-time completeness: every declared channel and event is listed above.
type Missing<All, Listed> = Exclude<All, Listed> extends never ? true : Exclude<All, Listed>;
export const channelListsComplete: [
  Missing<InvokeChannel, (typeof INVOKE_CHANNELS)[number]>,
  Missing<PushChannel, (typeof PUSH_CHANNELS)[number]>,
  Missing<EventName, (typeof EVENT_NAMES)[number]>,
] = [true, true, true];
