// One run per journal. Two runs on one --out (the second with --resume) both classified the same
// images and interleaved their lines; now the journal has a lock file beside it, created exclusively
// (O_EXCL) and holding the owner's pid and host. A lock whose process is gone (kill -9, a crash, a
// reboot) is stale: it is taken over. A lock held by a live process refuses the second run at once.
import { hostname } from 'node:os';
import { open, readFile, rm } from 'node:fs/promises';
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import { processAlive } from '../core/temp-dirs.js';

export const lockPathFor = (journalFile: string): string => `${journalFile}.lock`;

interface LockOwner {
  pid: number;
  host: string;
  started: string;
}

async function readOwner(lockFile: string): Promise<LockOwner | null> {
  try {
    const value = JSON.parse(await readFile(lockFile, 'utf8')) as Partial<LockOwner>;
    return typeof value.pid === 'number' && typeof value.host === 'string' ? { pid: value.pid, host: value.host, started: String(value.started ?? '') } : null;
  } catch {
    return null;
  }
}

/** The live run holding the journal's lock, or undefined (no lock, or a stale one). */
export async function journalLockHolder(journalFile: string): Promise<LockOwner | undefined> {
  const owner = await readOwner(lockPathFor(journalFile));
  if (!owner) return undefined;
  // Another machine's pid (a journal on a network share) cannot be checked: treat it as live.
  if (owner.host !== hostname()) return owner;
  return owner.pid === process.pid || processAlive(owner.pid) ? owner : undefined;
}

export function lockedError(journalFile: string, owner: LockOwner): EngineError {
  return new EngineError(
    ErrorCode.JOURNAL_LOCKED,
    `${journalFile} is in use by another run (pid ${owner.pid} on ${owner.host}, since ${owner.started}); wait for it to finish or stop it, or use another --out`,
    { item: journalFile },
  );
}

export interface JournalLock {
  release(): Promise<void>;
}

/** Takes the journal's lock or throws JOURNAL_LOCKED; a stale lock is removed and taken. */
export async function lockJournal(journalFile: string): Promise<JournalLock> {
  const lockFile = lockPathFor(journalFile);
  const owner: LockOwner = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(lockFile, 'wx', 0o600);
      await handle.writeFile(`${JSON.stringify(owner)}\n`);
      await handle.close();
      let released = false;
      return {
        async release() {
          if (released) return;
          released = true;
          const current = await readOwner(lockFile);
          if (current && current.pid === owner.pid && current.host === owner.host) await rm(lockFile, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = await journalLockHolder(journalFile);
      if (holder) throw lockedError(journalFile, holder);
      // Stale (its process is gone) or unreadable half-written: remove it and try again.
      await rm(lockFile, { force: true });
    }
  }
  throw new EngineError(ErrorCode.JOURNAL_LOCKED, `${journalFile} is being locked and unlocked by another run; try again`, { item: journalFile });
}
