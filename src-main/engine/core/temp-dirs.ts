// Per-run working folders in a shared temp directory (/tmp is writable by every local user).
//
// A predictable name (`/tmp/reslens-<pid>`) can be created first by another user, who then reads and
// replaces what we write there (a planted batch journal made `batch.organize` copy /etc/shadow). So a
// run never reuses a folder it did not create: mkdtemp picks an unguessable name, creates it with mode
// 0700 and fails rather than open an existing one. Each folder carries an owner file with the pid, so
// the next start can remove the leftovers of runs that died without cleaning up (SIGKILL, a crash).
import { lstat, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** Names of ResLens's per-run temp folders start with this (uploads, batches). */
export const RUN_DIR_PREFIX = 'reslens-run-';
const OWNER_FILE = '.reslens-owner';

/** Whether a process with this pid is alive (EPERM: alive, owned by someone else). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A new private folder (0700, unguessable name) for this run's `purpose`, under `base` (default: the OS temp dir). */
export async function createRunDir(purpose: string, base = os.tmpdir()): Promise<string> {
  const dir = await mkdtemp(path.join(base, `${RUN_DIR_PREFIX}${purpose}-`));
  await writeFile(path.join(dir, OWNER_FILE), `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
  return dir;
}

/**
 * Removes run folders under `base` left by processes that are gone. Only folders this user owns, that
 * are real folders (not links) and that hold an owner file naming a dead pid are touched.
 */
export async function removeDeadRunDirs(base = os.tmpdir()): Promise<string[]> {
  const removed: string[] = [];
  const uid = process.getuid?.();
  for (const name of await readdir(base).catch(() => [] as string[])) {
    if (!name.startsWith(RUN_DIR_PREFIX)) continue;
    const dir = path.join(base, name);
    try {
      const info = await lstat(dir);
      if (!info.isDirectory() || (uid !== undefined && info.uid !== uid)) continue;
      const pid = Number((await readFile(path.join(dir, OWNER_FILE), 'utf8')).trim());
      if (processAlive(pid)) continue;
      await rm(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      // not ours, or already gone
    }
  }
  return removed;
}
