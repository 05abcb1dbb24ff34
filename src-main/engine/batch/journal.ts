// The batch journal: an append-only JSON-lines file that records every result (or per-file error)
// as it is produced, so that a run killed at any point (kill -9, a crash, a closed laptop whose
// battery ran out) resumes where it stopped and loses nothing it reported done.
//
// Format (one JSON object a line, UTF-8):
//   line 1     {"reslens":"batch-journal","version":1,"model":{…},"mode":"fast","top":5,"created":…}
//   sessions   {"session":{"started":…,"inputs":[…],"resumed":true}}
//   results    {"path":…,"size":…,"mtimeMs":…,"result":{…the classify --json object…}}
//   organise   {"organized":{"path":…,"to":…}}
//   end        {"finished":{"at":…,"done":…,"failed":…}}
//
// Durability: the file is opened O_APPEND; each batch's lines go out in one write() followed by
// fdatasync(), and only then are the batch's results reported (events, the .jsonl export, progress
// counts). kill -9 cannot lose a completed write() (the data is in the kernel's page cache); the
// fdatasync covers power loss and kernel crashes. One sync per batch (8 images by default, a few
// hundred milliseconds of CPU inference) costs well under 1% and bounds the loss on power failure to
// the batch in flight, which was never reported. The file's directory is synced once, at creation.
//
// A torn last line (power loss mid-write) is cut off when the journal is reopened; a line that does
// not parse anywhere else is skipped and counted (its file is simply classified again).
import { createReadStream } from 'node:fs';
import { type FileHandle, mkdir, open, readFile, rename, rm, stat, truncate } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { EngineError, type ErrorInfo } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import type { ClassifyResult } from '../infer/classify-files.js';
import { type JournalLock, lockJournal } from './journal-lock.js';
import { checkedResultLine } from './journal-records.js';

import { unfinishedRunError } from './journal-names.js';
export { JOURNAL_SUFFIX, journalPathFor, unfinishedRunError } from './journal-names.js';
const JOURNAL_KIND = 'batch-journal';
const JOURNAL_VERSION = 1;

/** What makes results comparable: a journal is only ever continued by a run with the same identity. */
export interface JournalIdentity {
  model: { name: string; sha256: string };
  /** 'fast' (JPEG shrink-on-load) or 'exact' (full decode): they give slightly different numbers. */
  mode: string;
  top: number;
  /** SHA-256 of the label list, so a different --labels file is not mixed in either. */
  labelsSha256: string;
}

export interface JournalHeader extends JournalIdentity {
  reslens: typeof JOURNAL_KIND;
  version: number;
  created: string;
}

/** How a file was when it was classified: a changed file is classified again on resume. */
export interface FileKey {
  size: number;
  mtimeMs: number;
}

export interface JournalRecord extends FileKey {
  path: string;
  result: ClassifyResult;
}

export interface OrganizeRecord {
  path: string;
  to: string;
}

/** Per path, where its latest record sits in the journal (byte offset and length of the line). */
export interface JournalEntry extends FileKey {
  offset: number;
  length: number;
  /** Error code of the latest record, absent for a success. */
  error?: ErrorInfo['code'];
}

export interface JournalState {
  header: JournalHeader;
  /** Latest record per path. */
  entries: Map<string, JournalEntry>;
  /** Organised copies already made: source path → destination. */
  organized: Map<string, string>;
  sessions: number;
  /** Whether the last session ran to its end (no resume needed). */
  finished: boolean;
  /** Lines that did not parse (skipped; their files are classified again). */
  damagedLines: number;
  /** Bytes of a torn last line that were cut off. */
  truncatedBytes: number;
}

/** Errors worth trying again on resume even when the file has not changed. */
const TRANSIENT_ERRORS = new Set<string>([
  ErrorCode.FILE_NOT_FOUND,
  ErrorCode.READ_FAILED,
  ErrorCode.INFERENCE_FAILED,
  ErrorCode.CANCELLED,
  ErrorCode.EP_UNAVAILABLE,
]);
// Queue mode: failures of the setup (a worker without the model or the folder, one that kept dying),
// not of the file; a resume with the setup fixed classifies them.
for (const code of [ErrorCode.QUEUE_UNAVAILABLE, ErrorCode.MODEL_MISMATCH, ErrorCode.PATH_NOT_ALLOWED, ErrorCode.WORKER_FAILED]) TRANSIENT_ERRORS.add(code);

export const isTransientError = (code: string): boolean => TRANSIENT_ERRORS.has(code);

function sameIdentity(a: JournalIdentity, b: JournalIdentity): string | undefined {
  if (a.model.sha256 !== b.model.sha256)
    return `it was written with model ${a.model.name} (sha256 ${a.model.sha256.slice(0, 12)}…), not ${b.model.name} (sha256 ${b.model.sha256.slice(0, 12)}…)`;
  if (a.mode !== b.mode) return `it was written in ${a.mode} mode, not ${b.mode} (${b.mode === 'exact' ? 'drop --exact' : 'add --exact'} to continue it)`;
  if (a.top !== b.top) return `it holds the top ${a.top} classes per image, not ${b.top} (use --top ${a.top} to continue it)`;
  if (a.labelsSha256 !== b.labelsSha256) return 'it was written with a different label set';
  return undefined;
}

async function syncDirectory(dir: string): Promise<void> {
  // Makes the new file's directory entry durable. Not every platform can open a folder (Windows).
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // best effort
  } finally {
    await handle?.close();
  }
}

/** Reads a journal: header, latest record per path, organised copies; cuts a torn last line. */
export async function readJournal(file: string, options: { repair?: boolean; inputs?: readonly string[] } = {}): Promise<JournalState> {
  const bytes = await readFile(file);
  let end = bytes.length;
  let truncatedBytes = 0;
  if (end > 0 && bytes[end - 1] !== 0x0a) {
    const lastNewline = bytes.lastIndexOf(0x0a);
    end = lastNewline + 1;
    truncatedBytes = bytes.length - end;
    if (options.repair) await truncate(file, end);
  }
  let header: JournalHeader | undefined;
  const entries = new Map<string, JournalEntry>();
  const organized = new Map<string, string>();
  let sessions = 0;
  let finished = false;
  let damagedLines = 0;
  let offset = 0;
  while (offset < end) {
    let next = bytes.indexOf(0x0a, offset);
    if (next < 0 || next > end) next = end;
    const length = next - offset;
    const line = bytes.toString('utf8', offset, next);
    const lineOffset = offset;
    offset = next + 1;
    if (line.trim() === '') continue;
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(line) as Record<string, unknown>;
    } catch {
      damagedLines++;
      continue;
    }
    if (!header) {
      if (value.reslens !== JOURNAL_KIND) throw new EngineError(ErrorCode.INVALID_ARGUMENT, `${file} is not a ResLens batch journal`, { item: file });
      if (value.version !== JOURNAL_VERSION)
        throw new EngineError(
          ErrorCode.INVALID_ARGUMENT,
          `${file} is a version ${String(value.version)} journal; this ResLens reads version ${JOURNAL_VERSION}`,
          { item: file },
        );
      header = value as unknown as JournalHeader;
      continue;
    }
    if ('path' in value || 'result' in value) {
      // Only lines of the shape ResLens writes, for paths under this run's inputs (journal-records.ts).
      const record = checkedResultLine(value, options.inputs);
      if (!record) {
        damagedLines++;
        continue;
      }
      const error = 'error' in record.result ? (record.result.error as ErrorInfo) : undefined;
      entries.set(record.path, { size: record.size, mtimeMs: record.mtimeMs, offset: lineOffset, length, ...(error ? { error: error.code } : {}) });
      finished = false;
    } else if (value.organized && typeof value.organized === 'object') {
      const record = value.organized as OrganizeRecord;
      organized.set(record.path, record.to);
    } else if (value.session) {
      sessions++;
      finished = false;
    } else if (value.finished) {
      finished = true;
    } else {
      damagedLines++;
    }
  }
  if (!header)
    throw new EngineError(ErrorCode.INVALID_ARGUMENT, `${file} has no journal header (it is empty or damaged)`, {
      item: file,
      hint: { actions: ['restart'], file },
    });
  return { header, entries, organized, sessions, finished, damagedLines, truncatedBytes };
}

/** Reads the records of `entries` (latest per path) in the order of `paths`, a few at a time. */
export async function* readRecords(file: string, entries: Map<string, JournalEntry>, paths: Iterable<string>): AsyncGenerator<JournalRecord> {
  const handle = await open(file, 'r');
  try {
    let buffer = Buffer.alloc(64 * 1024);
    for (const p of paths) {
      const entry = entries.get(p);
      if (!entry) continue;
      if (buffer.length < entry.length) buffer = Buffer.alloc(entry.length * 2);
      const { bytesRead } = await handle.read(buffer, 0, entry.length, entry.offset);
      // Checked again: the file may have changed since readJournal indexed it.
      let record: ReturnType<typeof checkedResultLine> = null;
      try {
        record = checkedResultLine(JSON.parse(buffer.toString('utf8', 0, bytesRead)));
      } catch {
        record = null;
      }
      if (record && record.path === p) yield record as JournalRecord;
    }
  } finally {
    await handle.close();
  }
}

/** Every line of the journal in order (for tools and tests). */
export async function* journalLines(file: string): AsyncGenerator<Record<string, unknown>> {
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim() === '') continue;
    try {
      yield JSON.parse(line) as Record<string, unknown>;
    } catch {
      // torn or damaged line: skipped, as readJournal does
    }
  }
}

/**
 * A cheap look before loading a model: does `file` hold a run that a new run would have to resume or
 * restart? Undefined when there is no journal (or an empty one).
 */
export async function journalStatus(file: string): Promise<{ finished: boolean; done: number; header: JournalHeader } | undefined> {
  const exists = await stat(file).then(
    (s) => s.size > 0,
    () => false,
  );
  if (!exists) return undefined;
  const state = await readJournal(file);
  return { finished: state.finished, done: state.entries.size, header: state.header };
}

export interface OpenJournalOptions {
  identity: JournalIdentity;
  /** Continue an existing journal (its identity must match). */
  resume: boolean;
  /** Start over even when an unfinished journal exists (it is kept as <file>.old). */
  restart: boolean;
  inputs: readonly string[];
}

/** Appends to a journal with the durability policy described at the top of this file. */
export class Journal {
  readonly file: string;
  /** What the journal held when opened (empty for a new one). */
  readonly previous: JournalState;
  private handle: FileHandle | undefined;
  private tail: Promise<void> = Promise.resolve();
  private lock: JournalLock | undefined;

  private constructor(file: string, handle: FileHandle, previous: JournalState) {
    this.file = file;
    this.handle = handle;
    this.previous = previous;
  }

  /**
   * Opens (or creates) the journal. Refuses, with an INVALID_ARGUMENT error whose message says what to
   * do, to mix runs: resuming a journal written with another model, mode, top-k or label set, or
   * starting afresh over an unfinished journal without `restart`.
   */
  static async open(file: string, options: OpenJournalOptions): Promise<Journal> {
    await mkdir(path.dirname(path.resolve(file)), { recursive: true });
    // One run per journal (journal-lock.ts): a second run is refused before it reads anything.
    const lock = await lockJournal(file);
    try {
      const journal = await Journal.openLocked(file, options);
      journal.lock = lock;
      return journal;
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  private static async openLocked(file: string, options: OpenJournalOptions): Promise<Journal> {
    const exists = await stat(file).then(
      (s) => s.size > 0,
      () => false,
    );
    let previous: JournalState | undefined;
    if (exists && (options.resume || !options.restart)) {
      previous = await readJournal(file, { repair: options.resume, inputs: options.inputs });
      if (options.resume) {
        const mismatch = sameIdentity(previous.header, options.identity);
        if (mismatch)
          throw new EngineError(ErrorCode.INVALID_ARGUMENT, `cannot resume from ${file}: ${mismatch}`, { item: file, hint: { actions: ['restart'], file } });
      } else if (!previous.finished) {
        throw unfinishedRunError(file, previous.entries.size);
      } else {
        previous = undefined; // a finished run: a new run without --resume replaces it
      }
    }
    if (!previous) {
      if (exists) await rename(file, `${file}.old`).catch(() => rm(file, { force: true }));
      const header: JournalHeader = { reslens: JOURNAL_KIND, version: JOURNAL_VERSION, ...options.identity, created: new Date().toISOString() };
      const handle = await open(file, 'w');
      await handle.write(`${JSON.stringify(header)}\n`);
      await handle.sync();
      await handle.close();
      await syncDirectory(path.dirname(path.resolve(file)));
      previous = { header, entries: new Map(), organized: new Map(), sessions: 0, finished: false, damagedLines: 0, truncatedBytes: 0 };
    }
    const handle = await open(file, 'a');
    const journal = new Journal(file, handle, previous);
    await journal.append([{ session: { started: new Date().toISOString(), inputs: options.inputs, resumed: previous.sessions > 0 } }]);
    return journal;
  }

  /**
   * Appends lines in one write and syncs them; resolves once they are durable. Calls are serialised
   * in call order, so a caller may start the next batch's work while this one syncs.
   */
  append(lines: readonly object[]): Promise<void> {
    if (lines.length === 0) return this.tail;
    const text = lines.map((line) => `${JSON.stringify(line)}\n`).join('');
    const next = this.tail.then(async () => {
      const handle = this.handle;
      if (!handle) throw new EngineError(ErrorCode.INVALID_ARGUMENT, 'journal is closed');
      await handle.write(text);
      await handle.datasync();
    });
    this.tail = next.catch(() => undefined);
    return next;
  }

  appendResults(records: readonly JournalRecord[]): Promise<void> {
    return this.append(records.map((r) => ({ path: r.path, size: r.size, mtimeMs: r.mtimeMs, result: r.result })));
  }

  appendOrganized(records: readonly OrganizeRecord[]): Promise<void> {
    return this.append(records.map((r) => ({ organized: r })));
  }

  markFinished(summary: { done: number; failed: number }): Promise<void> {
    return this.append([{ finished: { at: new Date().toISOString(), ...summary } }]);
  }

  async close(): Promise<void> {
    await this.tail;
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
    await this.lock?.release();
    this.lock = undefined;
  }
}
