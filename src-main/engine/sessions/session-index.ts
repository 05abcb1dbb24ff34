// The session index: a small JSON file in the user's data folder that lists the batch runs the app
// kept (their journals live beside it, in runs/<id>/) and the Images session, so a reload or a restart
// finds them again.
//
// The file is the user's, but anything may have written it (another ResLens version, a sync tool, a
// hostile program): it is validated with zod on every read, and a file that does not parse is moved
// aside (`sessions.json.corrupt-<time>`) with a note for the UI instead of crashing the engine or
// silently dropping it. Nothing in it is trusted as a path to open: a run's folder of journals is
// derived from its id (a strict pattern), never read from the file; the photo folder an entry names
// is checked like any folder a user picks before a resume walks it.
//
// Writes are atomic (a private temp file in the same folder, then rename), so a crash mid-write
// leaves the old index or the new one, never half of one. Two engines on one data folder (two app
// windows, a server and the app): each change re-reads the file and merges by id while holding a
// lock file (O_EXCL; one left by a dead process is taken over after LOCK_STALE_MS), so one engine's
// runs are not erased by the other's write.
import { mkdir, open, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { readJsonFile, writeJsonAtomic } from './json-file.js';

export const SESSION_INDEX_FILE = 'sessions.json';
export const SESSION_INDEX_VERSION = 1;
/** Larger than any honest index (MAX_SESSIONS entries of ~1 KB): a bigger file is set aside unread. */
export const MAX_INDEX_BYTES = 2 * 1024 * 1024;
/** Runs kept in the list; the oldest beyond this are dropped from the index (their journals with them). */
export const MAX_SESSIONS = 200;
/** A lock older than this was left by a process that died mid-change (a change takes milliseconds). */
const LOCK_STALE_MS = 5_000;
const LOCK_WAIT_MS = 3_000;
/** One queue per index file in this process (instances share it). */
const queues = new Map<string, Promise<unknown>>();

export const SessionIdSchema = z.string().regex(/^batch_[A-Za-z0-9_-]{8,64}$/);

const isoDate = z
  .string()
  .max(40)
  .refine((s) => !Number.isNaN(Date.parse(s)), 'expected a date');
const count = z.number().int().min(0).max(1e9);

export const SessionEntrySchema = z
  .object({
    id: SessionIdSchema,
    kind: z.literal('batch'),
    /** The photo folder the run classified (as the user picked it). */
    folder: z.string().min(1).max(4096),
    created: isoDate,
    updated: isoDate,
    model: z.string().min(1).max(200),
    top: z.number().int().min(1).max(20),
    mode: z.enum(['fast', 'exact']),
    state: z.enum(['running', 'paused', 'done', 'cancelled', 'failed']),
    done: count,
    failed: count,
    total: count.nullable(),
  })
  .strict();
export type SessionEntry = z.infer<typeof SessionEntrySchema>;

const IndexFileSchema = z
  .object({
    reslens: z.literal('session-index'),
    version: z.literal(SESSION_INDEX_VERSION),
    sessions: z.array(SessionEntrySchema).max(MAX_SESSIONS * 2),
  })
  .strict();

export interface SessionIndexOptions {
  /** The data folder (`<user data>/sessions`); created on first write. */
  dir: string;
}

export class SessionIndex {
  /** What went wrong reading the file, for the UI (null: nothing). */
  notice: string | null = null;

  constructor(private readonly options: SessionIndexOptions) {}

  get dir(): string {
    return this.options.dir;
  }

  get file(): string {
    return path.join(this.options.dir, SESSION_INDEX_FILE);
  }

  /** The private folder of one run: journal and export. Derived from the id only. */
  runDir(id: string): string {
    const parsed = SessionIdSchema.safeParse(id);
    if (!parsed.success) throw new Error(`not a session id: ${JSON.stringify(id.slice(0, 80))}`);
    return path.join(this.options.dir, 'runs', parsed.data);
  }

  /** Every kept run, newest first. Never throws for a bad file: it is set aside and noted. */
  async list(): Promise<SessionEntry[]> {
    return this.serial(async () => [...(await this.read())].sort((a, b) => b.created.localeCompare(a.created)));
  }

  async get(id: string): Promise<SessionEntry | undefined> {
    return (await this.list()).find((s) => s.id === id);
  }

  /** Adds or replaces the entry with this id (re-reading the file first: another engine may have written it). */
  async put(entry: SessionEntry): Promise<void> {
    const checked = SessionEntrySchema.parse(entry);
    await this.serial(async () => {
      const sessions = (await this.read()).filter((s) => s.id !== checked.id);
      sessions.push(checked);
      sessions.sort((a, b) => b.created.localeCompare(a.created));
      const dropped = sessions.splice(MAX_SESSIONS);
      await this.write(sessions);
      for (const old of dropped) await rm(this.runDir(old.id), { recursive: true, force: true });
    });
  }

  /** Forgets a run and deletes its journal (never the photos). */
  async remove(id: string): Promise<boolean> {
    return this.serial(async () => {
      const sessions = await this.read();
      const kept = sessions.filter((s) => s.id !== id);
      if (kept.length === sessions.length) return false;
      await this.write(kept);
      await rm(this.runDir(id), { recursive: true, force: true });
      return true;
    });
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const locked = () => this.withLock(work);
    const next = (queues.get(this.file) ?? Promise.resolve()).then(locked, locked);
    queues.set(
      this.file,
      next.catch(() => undefined),
    );
    return next;
  }

  /** Across processes: an exclusive lock file beside the index while reading, merging and writing. */
  private async withLock<T>(work: () => Promise<T>): Promise<T> {
    const lock = `${this.file}.lock`;
    await mkdir(this.options.dir, { recursive: true, mode: 0o700 });
    const deadline = Date.now() + LOCK_WAIT_MS;
    let held = false;
    while (!held) {
      try {
        await (await open(lock, 'wx', 0o600)).close();
        held = true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') break; // read-only folder: work without the lock
        const age = await stat(lock).then(
          (info) => Date.now() - info.mtimeMs,
          () => 0,
        );
        if (age > LOCK_STALE_MS) await rm(lock, { force: true });
        else if (Date.now() > deadline)
          break; // never hang the app on someone else's lock
        else await new Promise((resolve) => setTimeout(resolve, 15));
      }
    }
    try {
      return await work();
    } finally {
      if (held) await rm(lock, { force: true });
    }
  }

  private async read(): Promise<SessionEntry[]> {
    const { value, notice } = await readJsonFile(this.file, IndexFileSchema, MAX_INDEX_BYTES, 'the session list');
    if (notice) this.notice = notice;
    // Duplicate ids (hand-edited or merged files): the newest update wins.
    const byId = new Map<string, SessionEntry>();
    for (const s of value?.sessions ?? []) {
      const seen = byId.get(s.id);
      if (!seen || seen.updated < s.updated) byId.set(s.id, s);
    }
    return [...byId.values()];
  }

  private async write(sessions: SessionEntry[]): Promise<void> {
    await writeJsonAtomic(this.file, { reslens: 'session-index', version: SESSION_INDEX_VERSION, sessions });
  }
}
