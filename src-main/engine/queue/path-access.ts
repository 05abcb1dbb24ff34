// Which files a worker reads, and where: the chunk names files as the coordinator sees them; the
// worker rewrites the prefix where its mount differs (--path-map LOCAL=REMOTE), resolves links, and
// reads only regular files under its --allow-root folders. A path outside them — given directly, via
// `..`, or via a symbolic link inside an allowed folder — is refused before it is opened.
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { EngineError, type ErrorInfo } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';

export interface PathMapping {
  /** Prefix as the coordinator names files. */
  local: string;
  /** The same folder as this worker mounts it. */
  remote: string;
}

/** Parses one --path-map value: LOCAL=REMOTE, both absolute. */
export function parsePathMapping(value: string): PathMapping {
  const at = value.indexOf('=');
  const local = at > 0 ? value.slice(0, at) : '';
  const remote = at > 0 ? value.slice(at + 1) : '';
  if (!local || !remote || !path.isAbsolute(local) || !path.isAbsolute(remote)) {
    throw new EngineError(ErrorCode.INVALID_ARGUMENT, `--path-map ${value}: expected LOCAL=REMOTE with two absolute folders (e.g. /mnt/photos=/data/photos)`);
  }
  return { local: path.resolve(local), remote: path.resolve(remote) };
}

const within = (file: string, folder: string): boolean => file === folder || file.startsWith(folder.endsWith(path.sep) ? folder : folder + path.sep);

/** The coordinator's path as this worker sees it: the longest matching prefix is rewritten. */
export function mapPath(file: string, mappings: readonly PathMapping[]): string {
  let best: PathMapping | undefined;
  for (const m of mappings) if (within(file, m.local) && (!best || m.local.length > best.local.length)) best = m;
  return best ? best.remote + file.slice(best.local.length) : file;
}

export type Access = { file: string } | { error: Omit<ErrorInfo, 'item'> };

export class PathAccess {
  private constructor(
    private readonly roots: readonly string[] | undefined,
    private readonly mappings: readonly PathMapping[],
  ) {}

  /** `roots` undefined: whatever this user can read. Roots are resolved (links followed) once, here. */
  static async create(options: { allowRoots?: readonly string[]; pathMap?: readonly PathMapping[] }): Promise<PathAccess> {
    let roots: string[] | undefined;
    if (options.allowRoots && options.allowRoots.length > 0) {
      roots = [];
      for (const root of options.allowRoots) {
        const real = await realpath(root).catch(() => {
          throw new EngineError(ErrorCode.INVALID_ARGUMENT, `--allow-root ${root}: no such folder`);
        });
        if (!(await stat(real)).isDirectory()) throw new EngineError(ErrorCode.INVALID_ARGUMENT, `--allow-root ${root}: not a folder`);
        roots.push(real);
      }
    }
    return new PathAccess(roots, options.pathMap ?? []);
  }

  get restricted(): boolean {
    return this.roots !== undefined;
  }

  describeRoots(): string {
    return this.roots ? this.roots.join(', ') : '(any file this user can read)';
  }

  /** The file to read for a chunk path, or why not. Never opens the file. */
  async resolve(coordinatorPath: string): Promise<Access> {
    if (!path.isAbsolute(coordinatorPath)) return { error: { code: ErrorCode.PATH_NOT_ALLOWED, message: 'not an absolute path' } };
    const mapped = mapPath(path.normalize(coordinatorPath), this.mappings);
    let real: string;
    try {
      real = await realpath(mapped);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR')
        return { error: { code: ErrorCode.FILE_NOT_FOUND, message: `file not found on worker (as ${mapped}); does it mount the same share? (--path-map)` } };
      if (code === 'ELOOP') return { error: { code: ErrorCode.SYMLINK_LOOP, message: 'symbolic link loop' } };
      return { error: { code: ErrorCode.READ_FAILED, message: `cannot read on worker: ${(error as Error).message}` } };
    }
    if (this.roots && !this.roots.some((root) => within(real, root))) {
      return { error: { code: ErrorCode.PATH_NOT_ALLOWED, message: `outside the folders this worker may read (--allow-root ${this.roots.join(', ')})` } };
    }
    const info = await stat(real).catch(() => undefined);
    if (!info?.isFile()) return { error: { code: ErrorCode.READ_FAILED, message: 'not a regular file' } };
    return { file: real };
  }
}
