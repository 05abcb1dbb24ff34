// Browser mode's folder picker: the browser may see and choose folders under one root on the
// serving machine (--root, default the user's home), never outside it. Each folder shown gets a
// dir_ id; batch requests accept only those ids.
import { lstat, mkdir, readdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import type { FolderEntry, FolderListing } from '../api/contract.js';
import { newId } from './uploads.js';

export class FolderError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const MAX_ENTRIES = 5000;
const IMAGE_EXT = /\.(jpe?g|png|webp|tiff?|gif|avif|heic)$/i;

const within = (root: string, candidate: string): boolean => candidate === root || candidate.startsWith(root.endsWith(path.sep) ? root : root + path.sep);

export class FolderGrants {
  private readonly byId = new Map<string, string>();
  private readonly byPath = new Map<string, string>();
  private rootReal?: string;

  constructor(private readonly root: string) {}

  async rootPath(): Promise<string> {
    this.rootReal ??= await realpath(path.resolve(this.root));
    return this.rootReal;
  }

  resolve(id: string): string | undefined {
    return this.byId.get(id);
  }

  private async entry(folder: string): Promise<FolderEntry> {
    const root = await this.rootPath();
    let id = this.byPath.get(folder);
    if (!id) {
      id = newId('dir');
      this.byPath.set(folder, id);
      this.byId.set(id, folder);
    }
    const relative = path.relative(root, folder);
    return { folder: id as FolderEntry['folder'], name: relative === '' ? path.basename(folder) || folder : path.basename(folder), path: folder };
  }

  /** Lists a granted folder (or the root when no id is given). */
  async list(id?: string): Promise<FolderListing> {
    const root = await this.rootPath();
    const folder = id === undefined || id === '' ? root : this.byId.get(id);
    if (!folder) throw new FolderError(404, 'UNKNOWN_FOLDER', 'unknown folder id: list its parent first');
    let dirents;
    try {
      dirents = await readdir(folder, { withFileTypes: true });
    } catch (error) {
      throw new FolderError(403, 'READ_FAILED', `cannot read ${folder}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    const folders: FolderEntry[] = [];
    let imageFiles = 0;
    let truncated = false;
    const names = dirents
      .filter((d) => !d.name.startsWith('.'))
      .sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true, sensitivity: 'base' }));
    for (const dirent of names) {
      if (dirent.isFile()) {
        if (IMAGE_EXT.test(dirent.name)) imageFiles++;
        continue;
      }
      if (!dirent.isDirectory() && !dirent.isSymbolicLink()) continue;
      if (folders.length >= MAX_ENTRIES) {
        truncated = true;
        continue;
      }
      const child = path.join(folder, dirent.name);
      try {
        const real = dirent.isSymbolicLink() ? await realpath(child) : child;
        // A link may point anywhere: only folders that are really under the root are offered.
        if (!within(root, real) || !(await lstat(real)).isDirectory()) continue;
        folders.push(await this.entry(real));
      } catch {
        // dangling link or no permission: not offered
      }
    }
    const parent = folder === root ? null : await this.entry(path.dirname(folder));
    return { current: await this.entry(folder), parent, folders, imageFiles, truncated };
  }

  /** Creates a subfolder (for organise destinations) and grants it. */
  async create(parentId: string, name: string): Promise<FolderEntry> {
    const parent = this.byId.get(parentId);
    if (!parent) throw new FolderError(404, 'UNKNOWN_FOLDER', 'unknown folder id');
    // eslint-disable-next-line no-control-regex
    if (!/^[^/\\\u0000-\u001f]{1,200}$/.test(name) || name.startsWith('.') || name.trim() !== name) {
      throw new FolderError(400, 'INVALID_NAME', 'a folder name is 1–200 characters, without slashes, and does not start with a dot');
    }
    const folder = path.join(parent, name);
    try {
      await mkdir(folder);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new FolderError(
        code === 'EEXIST' ? 409 : 403,
        code === 'EEXIST' ? 'EXISTS' : 'CREATE_FAILED',
        code === 'EEXIST' ? `${name} already exists` : `cannot create ${name}: ${code}`,
      );
    }
    return this.entry(folder);
  }
}
