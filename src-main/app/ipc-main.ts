// Main's IPC handlers. Every channel from channels.ts goes through one generic wrapper (GitHub
// Desktop's ipc-main pattern) that, before any handler runs:
//   1. checks the sender: a top-level frame of the app's own origin, else FORBIDDEN;
//   2. measures the message (without serialising it) against the channel's size limit;
//   3. turns anything thrown into an error value, so the renderer always gets { ok, result | error }.
// The request channel then validates with the contract (validateRequest) and checks that every
// image/folder id in the parameters was issued by this app's grant registry; only then does the
// request reach the engine.
//
// No Electron import: `ipc` is anything shaped like Electron's ipcMain, so this module is tested
// without the Electron binary (and main.ts passes the real ipcMain, typechecked against Electron).
import { realpath, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MAX_REQUEST_BYTES, type RequestName, type RequestParams, RequestSchemas, validateRequest } from '../api/contract.js';
import type { FolderEntry } from '../api/contract.js';
import type { GrantedImage, InvokeChannel, InvokeChannels, IpcReply, RefusedPath } from './channels.js';
import type { EngineLink } from './engine-bridge.js';
import { type GrantRegistry } from './grants.js';
import { HostError, HostErrorCode, toErrorValue } from './host-error.js';
import { payloadSize } from './payload-size.js';
import type { SenderFrameLike } from './sender.js';

/** The part of an Electron IpcMainInvokeEvent these handlers read. */
export interface IpcEventLike {
  senderFrame: SenderFrameLike | null;
}

/** The part of Electron's ipcMain these handlers use. */
export interface IpcMainLike {
  handle(channel: string, listener: (event: IpcEventLike, ...args: unknown[]) => unknown): void;
  removeHandler(channel: string): void;
}

/** Native dialogs (main.ts implements them with Electron's dialog module). */
export interface Dialogs {
  /** File ▸ Open Images…: chosen paths, empty when cancelled. */
  openImages(): Promise<string[]>;
  /** A folder, or null when cancelled. */
  openFolder(): Promise<string | null>;
  /** Where to save `defaultName`, or null when cancelled. */
  saveFile(defaultName: string): Promise<string | null>;
}

export interface IpcDeps {
  isTrustedSender: (frame: SenderFrameLike | null | undefined) => boolean;
  engine: EngineLink;
  grants: GrantRegistry;
  dialogs: Dialogs;
  write?: (file: string, data: Uint8Array) => Promise<void>;
  log?: (message: string) => void;
  /** Electron's shell.showItemInFolder (the gallery's "Show in folder"). */
  showItemInFolder?: (file: string) => void;
}

/** Bytes each channel accepts per message. Requests use the contract's limit; the others carry paths or file contents. */
export const CHANNEL_LIMITS: Record<InvokeChannel, number> = {
  'reslens:request': MAX_REQUEST_BYTES,
  'reslens:add-paths': 4 * 1024 * 1024,
  'reslens:pick-folder': 1024,
  'reslens:save-file': 512 * 1024 * 1024,
  'reslens:show-result': 1024,
};
export const MAX_PATHS_PER_CALL = 10_000;
export const MAX_FILE_NAME_LENGTH = 255;

const invalid = (message: string) => new HostError(HostErrorCode.INVALID_REQUEST, message);

/** The parameters that carry ids, by kind: every one must be a grant of that kind. */
const IMAGE_ID_FIELDS = ['image', 'images'] as const;
const FOLDER_ID_FIELDS = ['folder', 'destination'] as const;

/**
 * Throws NOT_GRANTED unless every image and folder id in validated params was issued by `grants`
 * (or, for images, by the engine for a result of a run it knows: `engineImages`, from results.open).
 */
export function assertGranted(
  method: RequestName,
  params: Record<string, unknown>,
  grants: GrantRegistry,
  engineImages: ReadonlySet<string> = new Set(),
): void {
  const check = (field: string, value: unknown, kind: 'image' | 'folder', where: string) => {
    if (!grants.lookup(value, kind) && !(kind === 'image' && typeof value === 'string' && engineImages.has(value))) {
      throw new HostError(
        HostErrorCode.NOT_GRANTED,
        `${method}: ${where} is not a${kind === 'image' ? 'n image' : ' folder'} this app granted: add files by dropping or opening them, folders with Open Folder`,
      );
    }
  };
  for (const field of IMAGE_ID_FIELDS) {
    const value = params[field];
    if (value === undefined) continue;
    if (Array.isArray(value)) value.forEach((v, i) => check(field, v, 'image', `${field}[${i}]`));
    else check(field, value, 'image', field);
  }
  for (const field of FOLDER_ID_FIELDS) {
    if (params[field] !== undefined) check(field, params[field], 'folder', field);
  }
}

/** A file name safe to offer in a save dialog: a base name, no separators or control characters. */
export function safeFileName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  const cleaned = base
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is removed
    .replace(/[\u0000-\u001f\u007f<>:"|?*]/g, '_')
    .replace(/^[.\s]+/, '')
    .trim()
    .slice(0, 200);
  return cleaned || 'reslens-export';
}

export interface HostActions {
  addPaths(paths: unknown): Promise<{ granted: GrantedImage[]; refused: RefusedPath[] }>;
  pickFolder(): Promise<FolderEntry | null>;
  openImages(): Promise<GrantedImage[]>;
  saveFile(fileName: unknown, data: unknown): Promise<{ saved: boolean; path?: string }>;
  request(message: unknown): Promise<unknown>;
  showResult(batch: unknown, index: unknown): Promise<{ shown: boolean }>;
}

/** Image ids the engine issued for results (results.open) that main lets through; the oldest go first. */
const MAX_ENGINE_IMAGES = 512;

/** What the channels (and the native menus) do, after the sender and size checks. */
export function hostActions(deps: IpcDeps): HostActions {
  const log = deps.log ?? (() => undefined);
  const engineImages = new Set<string>();
  return {
    async addPaths(paths) {
      if (!Array.isArray(paths)) throw invalid('add-paths: expected a list of paths');
      if (paths.length > MAX_PATHS_PER_CALL) throw invalid(`add-paths: at most ${MAX_PATHS_PER_CALL} files at once`);
      return grantImages(deps.grants, paths, log);
    },
    async openImages() {
      const paths = await deps.dialogs.openImages();
      return (await grantImages(deps.grants, paths, log)).granted;
    },
    async pickFolder() {
      const chosen = await deps.dialogs.openFolder();
      if (chosen === null) return null;
      const outcome = await deps.grants.grantFolder(chosen);
      if (!outcome.ok) throw new HostError(HostErrorCode.INVALID_REQUEST, `${outcome.name}: ${outcome.reason}`);
      return { folder: outcome.grant.id, name: outcome.grant.name, path: outcome.grant.path };
    },
    saveFile: (fileName, data) => saveChosenFile(deps, fileName, data),
    async request(message) {
      const request = validateRequest(message);
      if (!request.ok) throw new HostError(request.error.code, request.error.message);
      assertGranted(request.method, request.params as Record<string, unknown>, deps.grants, engineImages);
      const result = await deps.engine.handle(request.method, request.params as RequestParams<RequestName>);
      if (request.method === 'results.open') rememberEngineImage(engineImages, result);
      return result;
    },
    showResult: (batch, index) => showResultInFolder(deps, batch, index),
  };
}

/** Grants each path that is an image the app may read; the others come back refused, with the reason (and are logged). */
async function grantImages(
  grants: GrantRegistry,
  paths: readonly unknown[],
  log: (message: string) => void,
): Promise<{ granted: GrantedImage[]; refused: RefusedPath[] }> {
  const granted: GrantedImage[] = [];
  const refused: RefusedPath[] = [];
  for (const p of paths) {
    const outcome = await grants.grantImage(p);
    if (outcome.ok) granted.push({ image: outcome.grant.id, name: outcome.grant.name });
    else refused.push({ name: outcome.name, reason: outcome.reason });
  }
  if (refused.length > 0)
    log(
      `refused ${refused.length} file(s): ${refused
        .slice(0, 5)
        .map((r) => `${r.name} (${r.reason})`)
        .join(', ')}`,
    );
  return { granted, refused };
}

/** Writes the renderer's file where the user chose in the save dialog (the renderer names no path). */
async function saveChosenFile(deps: IpcDeps, fileName: unknown, data: unknown): Promise<{ saved: boolean; path?: string }> {
  if (typeof fileName !== 'string' || fileName.length === 0 || fileName.length > MAX_FILE_NAME_LENGTH)
    throw invalid(`save-file: expected a file name of 1–${MAX_FILE_NAME_LENGTH} characters`);
  if (!(data instanceof Uint8Array)) throw invalid('save-file: expected the file contents as a Uint8Array');
  const target = await deps.dialogs.saveFile(safeFileName(fileName));
  if (target === null) return { saved: false };
  if (!path.isAbsolute(target)) throw invalid('save-file: the save dialog returned a relative path');
  try {
    await (deps.write ?? writeFile)(target, data);
  } catch (error) {
    throw new HostError(
      HostErrorCode.WRITE_FAILED,
      `could not write ${path.basename(target)}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  return { saved: true, path: target };
}

/** Lets later requests name the image results.open issued, keeping at most MAX_ENGINE_IMAGES (the oldest go first). */
function rememberEngineImage(engineImages: Set<string>, result: unknown): void {
  const image = (result as { image?: unknown })?.image;
  if (typeof image === 'string') {
    engineImages.add(image);
    if (engineImages.size > MAX_ENGINE_IMAGES) engineImages.delete(engineImages.values().next().value as string);
  }
}

/** The gallery's "Show in folder": reveals the file of one row of a run. */
async function showResultInFolder(deps: IpcDeps, batch: unknown, index: unknown): Promise<{ shown: boolean }> {
  // The renderer names a result, never a path: the path is the engine's own row of that run.
  const parsed = RequestSchemas['results.open'].safeParse({ batch, index });
  if (!parsed.success) throw invalid('show-result: expected a batch id and a row number');
  if (!deps.showItemInFolder) return { shown: false };
  const page = (await deps.engine.handle('batch.rows', { batch: parsed.data.batch, offset: parsed.data.index, limit: 1 })) as { rows: { path: string }[] };
  const file = page.rows[0]?.path;
  if (typeof file !== 'string' || !path.isAbsolute(file)) throw invalid(`show-result: batch ${parsed.data.batch} has no row ${parsed.data.index}`);
  let real: string;
  try {
    real = await realpath(file);
    if (!(await stat(real)).isFile()) throw new Error('not a file');
  } catch {
    throw new HostError('FILE_NOT_FOUND', `${path.basename(file)} is no longer there (moved or deleted since the run)`);
  }
  deps.showItemInFolder(real);
  return { shown: true };
}

type Handler<C extends InvokeChannel> = (...args: unknown[]) => Promise<InvokeChannels[C]['result']>;

/** Registers every invoke channel on `ipc`. Returns a function that removes them again. */
export function registerIpc(ipc: IpcMainLike, deps: IpcDeps, actions: HostActions = hostActions(deps)): () => void {
  const log = deps.log ?? (() => undefined);
  const expectArgs = (channel: InvokeChannel, args: unknown[], count: number) => {
    if (args.length !== count) throw invalid(`${channel}: expected ${count} argument(s), got ${args.length}`);
  };
  const handlers: { [C in InvokeChannel]: Handler<C> } = {
    'reslens:request': async (...args) => {
      expectArgs('reslens:request', args, 1);
      return actions.request(args[0]);
    },
    'reslens:add-paths': async (...args) => {
      expectArgs('reslens:add-paths', args, 1);
      return actions.addPaths(args[0]);
    },
    'reslens:pick-folder': async (...args) => {
      expectArgs('reslens:pick-folder', args, 0);
      return actions.pickFolder();
    },
    'reslens:save-file': async (...args) => {
      expectArgs('reslens:save-file', args, 2);
      return actions.saveFile(args[0], args[1]);
    },
    'reslens:show-result': async (...args) => {
      expectArgs('reslens:show-result', args, 2);
      return actions.showResult(args[0], args[1]);
    },
  };

  const channels = Object.keys(handlers) as InvokeChannel[];
  for (const channel of channels) {
    const handler = handlers[channel] as Handler<InvokeChannel>;
    ipc.handle(channel, async (event, ...args): Promise<IpcReply<unknown>> => {
      try {
        if (!deps.isTrustedSender(event?.senderFrame)) {
          log(`ipc: refused ${channel} from ${event?.senderFrame?.url ?? 'an unknown frame'}`);
          throw new HostError(HostErrorCode.FORBIDDEN, 'this page may not use the ResLens API');
        }
        const limit = CHANNEL_LIMITS[channel];
        if (payloadSize(args, limit) > limit) throw invalid(`${channel}: message larger than ${limit} bytes (or nested too deeply)`);
        return { ok: true, result: await handler(...args) };
      } catch (error) {
        return { ok: false, error: toErrorValue(error) };
      }
    });
  }
  return () => channels.forEach((channel) => ipc.removeHandler(channel));
}
