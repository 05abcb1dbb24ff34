// Organises classified photos into DEST/<label>/ folders: copies (or hard/symbolic links), never a move,
// never a delete, never an overwrite. Files whose top-1 probability is below the threshold go to
// DEST/_uncertain/, so every classified photo ends up somewhere and the threshold can be revisited
// by looking in one folder; files that failed to classify are not organised (they are in the export).
//
// Names: the photo keeps its file name; a second photo of the same name in the same label folder
// becomes "name (1).jpg", "name (2).jpg", … Resumable: each copy is recorded in the journal, and a
// destination that already holds the same bytes (a copy made just before a crash) counts as done.
import { constants } from 'node:fs';
import { copyFile, link, mkdir, open, readdir, stat, symlink } from 'node:fs/promises';
import path from 'node:path';
import type { ErrorInfo } from '../core/errors.js';
import { toErrorInfo } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import type { ClassifyResult } from '../infer/classify-files.js';

export type OrganizeMode = 'copy' | 'hardlink' | 'symlink';

export const UNCERTAIN_FOLDER = '_uncertain';

export interface OrganizeOptions {
  dest: string;
  /** Top-1 probability below this goes to _uncertain (default 0: everything to its label). */
  minProb?: number;
  mode?: OrganizeMode;
  /** Plan only: report where each file would go, touch nothing. */
  dryRun?: boolean;
  /** Every class name of the model, to tell apart classes that share a name (ImageNet has two "crane"s). */
  labels?: readonly string[];
}

export interface OrganizeAction {
  path: string;
  to: string;
  folder: string;
  /** 'copied' | 'linked' | 'planned' | 'already' (done in an earlier session) | 'error'. */
  status: 'copied' | 'linked' | 'planned' | 'already' | 'error';
  error?: Omit<ErrorInfo, 'item'>;
}

const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[1-9]|lpt[1-9])$/i;

/** A label as a folder name on any of Linux, macOS and Windows. */
export function folderName(label: string, index: number, labels?: readonly string[]): string {
  let name = label
    .normalize('NFC')
    .replace(/[/\\:*?"<>|\p{Cc}]/gu, '_')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[. ]+$/, '');
  if (name.length > 100) name = name.slice(0, 100).trim();
  if (name === '' || name === '.' || name === '..') name = `class ${index}`;
  if (WINDOWS_RESERVED.test(name)) name = `${name}_`;
  if (name === UNCERTAIN_FOLDER) name = `${name}_`;
  if (labels && labels.some((other, i) => i !== index && other === label)) name = `${name} (${index})`;
  return name;
}

/** The folder a result goes to, or undefined for a failure. */
export function folderFor(result: ClassifyResult, options: Pick<OrganizeOptions, 'minProb' | 'labels'>): string | undefined {
  if ('error' in result || result.top.length === 0) return undefined;
  const best = result.top[0];
  if (options.minProb !== undefined && best.prob < options.minProb) return UNCERTAIN_FOLDER;
  return folderName(best.label, best.index, options.labels);
}

function numbered(name: string, n: number): string {
  if (n === 0) return name;
  const ext = path.extname(name);
  const stem = ext.length > 0 && ext.length < name.length ? name.slice(0, -ext.length) : name;
  return `${stem} (${n})${ext.length < name.length ? ext : ''}`;
}

async function sameContent(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([stat(a), stat(b)]);
  if (sa.size !== sb.size) return false;
  if (sa.ino === sb.ino && sa.dev === sb.dev) return true;
  const [ha, hb] = await Promise.all([open(a, 'r'), open(b, 'r')]);
  try {
    const chunk = 1 << 20;
    const ba = Buffer.alloc(chunk);
    const bb = Buffer.alloc(chunk);
    for (let offset = 0; offset < sa.size; offset += chunk) {
      const [ra, rb] = await Promise.all([ha.read(ba, 0, chunk, offset), hb.read(bb, 0, chunk, offset)]);
      if (ra.bytesRead !== rb.bytesRead || !ba.subarray(0, ra.bytesRead).equals(bb.subarray(0, rb.bytesRead))) return false;
    }
    return true;
  } finally {
    await Promise.all([ha.close(), hb.close()]);
  }
}

async function place(source: string, target: string, mode: OrganizeMode): Promise<'copied' | 'linked'> {
  if (mode === 'symlink') {
    await symlink(path.resolve(source), target);
    return 'linked';
  }
  if (mode === 'hardlink') {
    try {
      await link(source, target);
      return 'linked';
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // Another volume, or a file system without hard links: copy instead.
      if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EMLINK') throw error;
    }
  }
  await copyFile(source, target, constants.COPYFILE_EXCL);
  return 'copied';
}

/**
 * Places one file; `taken` holds the destinations already used in this run (dry runs plan against
 * it as well as against the disk). Never overwrites: COPYFILE_EXCL / link / symlink fail on EEXIST.
 */
export async function organizeOne(result: ClassifyResult, options: OrganizeOptions, taken: Set<string>): Promise<OrganizeAction | undefined> {
  const folder = folderFor(result, options);
  if (folder === undefined) return undefined;
  const dir = path.join(options.dest, folder);
  const base = path.basename(result.path);
  const mode = options.mode ?? 'copy';
  if (!options.dryRun) await mkdir(dir, { recursive: true });
  for (let n = 0; n < 100_000; n++) {
    const target = path.join(dir, numbered(base, n));
    if (taken.has(target)) continue;
    if (options.dryRun) {
      const exists = await stat(target).then(
        () => true,
        () => false,
      );
      if (exists) continue;
      taken.add(target);
      return { path: result.path, to: target, folder, status: 'planned' };
    }
    try {
      const status = await place(result.path, target, mode);
      taken.add(target);
      return { path: result.path, to: target, folder, status };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') {
        // Ours from a session that crashed before recording it? Then it is done; otherwise try the next name.
        if (mode !== 'symlink' && (await sameContent(result.path, target).catch(() => false))) {
          taken.add(target);
          return { path: result.path, to: target, folder, status: 'already' };
        }
        continue;
      }
      const info = toErrorInfo(error, code === 'ENOENT' ? ErrorCode.FILE_NOT_FOUND : ErrorCode.READ_FAILED);
      return {
        path: result.path,
        to: target,
        folder,
        status: 'error',
        error: { code: info.code, message: `cannot ${mode === 'copy' ? 'copy' : 'link'} into ${dir}: ${info.message}` },
      };
    }
  }
  return {
    path: result.path,
    to: dir,
    folder,
    status: 'error',
    error: { code: ErrorCode.INVALID_ARGUMENT, message: `too many files named ${base} in ${dir}` },
  };
}

/** Lists a destination's label folders and file counts (for summaries and tests). */
export async function organizedCounts(dest: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const entry of await readdir(dest, { withFileTypes: true }).catch(() => [])) {
    if (entry.isDirectory()) counts[entry.name] = (await readdir(path.join(dest, entry.name))).length;
  }
  return counts;
}
