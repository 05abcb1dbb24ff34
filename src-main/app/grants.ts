// The grant model: the renderer never names a file. Main hands out an opaque, random id for each
// file or folder the user chose (native dialog, drop, or the window's file input) and only those ids
// ever resolve to a path, in main and in the engine process alike.
//
// Paths reach this module from two places: native dialogs (trusted) and the preload's
// webUtils.getPathForFile (sent by the renderer process, so checked as untrusted input: absolute,
// no "." or ".." segments, no URL, an existing regular file of reasonable size after realpath).
import { randomBytes } from 'node:crypto';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';

export type GrantKind = 'image' | 'folder';

export interface Grant {
  id: string;
  kind: GrantKind;
  /** The real path (symlinks resolved): what the engine opens. */
  path: string;
  /** What the user sees: the base name of the path they chose. */
  name: string;
}

export type GrantOutcome = { ok: true; grant: Grant } | { ok: false; name: string; reason: string };

export interface GrantRegistryOptions {
  /** Largest image file accepted (bytes). The engine refuses images over 200 MP from their header anyway. */
  maxFileBytes?: number;
  /** Most grants one session may hold (a renderer flooding add-paths hits this, not memory). */
  maxGrants?: number;
  /** Called for every new grant (main forwards it to the engine process). */
  onGrant?: (grant: Grant) => void;
}

export const DEFAULT_MAX_FILE_BYTES = 1024 * 1024 * 1024;
export const DEFAULT_MAX_GRANTS = 100_000;
export const MAX_PATH_LENGTH = 4096;

const PREFIX: Record<GrantKind, string> = { image: 'img', folder: 'dir' };

/** A fresh unguessable id: 144 random bits, base64url (matches the contract's id pattern). */
export function newGrantId(kind: GrantKind): string {
  return `${PREFIX[kind]}_${randomBytes(18).toString('base64url')}`;
}

/** Why a path string from the renderer is unacceptable before touching the file system, or null when it is fine. */
export function pathStringProblem(input: unknown): string | null {
  if (typeof input !== 'string') return 'not a path string';
  if (input.length === 0) return 'empty path';
  if (input.length > MAX_PATH_LENGTH) return `path longer than ${MAX_PATH_LENGTH} characters`;
  if (input.includes('\0')) return 'path contains a NUL character';
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(input)) return 'a URL, not a file path';
  if (!path.isAbsolute(input)) return 'not an absolute path';
  const segments = input.split(/[\\/]+/);
  if (segments.some((s) => s === '..' || s === '.')) return 'path contains "." or ".." segments';
  return null;
}

function displayName(input: unknown): string {
  if (typeof input !== 'string') return String(typeof input);
  const base = input.split(/[\\/]/).pop() ?? input;
  return base.length > 200 ? `${base.slice(0, 200)}…` : base || input.slice(0, 200);
}

export class GrantRegistry {
  private readonly byId = new Map<string, Grant>();
  private readonly byRealPath = new Map<string, string>();
  private readonly maxFileBytes: number;
  private readonly maxGrants: number;

  constructor(private readonly options: GrantRegistryOptions = {}) {
    this.maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
    this.maxGrants = options.maxGrants ?? DEFAULT_MAX_GRANTS;
  }

  /** Grants an image file (from a dialog or from the renderer's drop/file input). */
  grantImage(input: unknown): Promise<GrantOutcome> {
    return this.grant('image', input);
  }

  /** Grants a folder (only ever from a native dialog). */
  grantFolder(input: unknown): Promise<GrantOutcome> {
    return this.grant('folder', input);
  }

  /** The grant behind an id, only when it is of the expected kind. */
  lookup(id: unknown, kind: GrantKind): Grant | undefined {
    if (typeof id !== 'string') return undefined;
    const grant = this.byId.get(id);
    return grant && grant.kind === kind ? grant : undefined;
  }

  /** Every grant so far, oldest first (replayed into a restarted engine process). */
  all(): Grant[] {
    return [...this.byId.values()];
  }

  get size(): number {
    return this.byId.size;
  }

  private async grant(kind: GrantKind, input: unknown): Promise<GrantOutcome> {
    const name = displayName(input);
    const problem = pathStringProblem(input);
    if (problem) return { ok: false, name, reason: problem };
    const requested = input as string;
    let real: string;
    try {
      real = await realpath(requested);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      return { ok: false, name, reason: code === 'ENOENT' || code === 'ENOTDIR' ? 'no such file' : `cannot resolve the path (${code ?? 'error'})` };
    }
    let info;
    try {
      info = await stat(real);
    } catch (error) {
      return { ok: false, name, reason: `cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'})` };
    }
    if (kind === 'image') {
      if (info.isDirectory()) return { ok: false, name, reason: 'a folder: open folders with File ▸ Open Folder for Batch…' };
      if (!info.isFile()) return { ok: false, name, reason: 'not a regular file' };
      if (info.size > this.maxFileBytes) return { ok: false, name, reason: `larger than ${Math.round(this.maxFileBytes / 1024 / 1024)} MB` };
    } else if (!info.isDirectory()) {
      return { ok: false, name, reason: 'not a folder' };
    }
    const key = `${kind}:${real}`;
    const existing = this.byRealPath.get(key);
    if (existing) return { ok: true, grant: this.byId.get(existing) as Grant };
    if (this.byId.size >= this.maxGrants) return { ok: false, name, reason: `more than ${this.maxGrants} files in one session: restart ResLens` };
    const grant: Grant = { id: newGrantId(kind), kind, path: real, name };
    this.byId.set(grant.id, grant);
    this.byRealPath.set(key, grant.id);
    this.options.onGrant?.(grant);
    return { ok: true, grant };
  }
}
