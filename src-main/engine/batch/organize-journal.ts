// Organise a batch from its journal: every classified original into dest/<class>/ (or _uncertain/),
// in path order (so "name (1).jpg" suffixes are the same whoever asks), each placement journaled (so
// a second organise reports "already there" instead of copying twice), failures reported per file.
// The one organise: `reslens batch --organize` (through run.ts, at the end of a run) and the app's
// Organise dialog (through the service, after a run; its Preview is the same call as a dry run).
import { open } from 'node:fs/promises';
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import { comparePaths } from './export.js';
import { type JournalState, readJournal, readRecords } from './journal.js';
import { lockJournal } from './journal-lock.js';
import { type OrganizeAction, type OrganizeOptions, organizeOne } from './organize.js';

export interface OrganizeSummary {
  copied: number;
  linked: number;
  planned: number;
  already: number;
  errors: number;
}

/** The summary with what a person wants to see: files per destination folder, and the failures. */
export interface OrganizeReport extends OrganizeSummary {
  /** Files per class folder (and `_uncertain`): planned in a dry run, placed (or already there) otherwise. */
  folders: Record<string, number>;
  /** Results that are errors (the file could not be classified): never organised. */
  unclassified: number;
  /** Placements that failed, in path order. */
  failures: OrganizeAction[];
}

export interface OrganizeJournalContext {
  /** The journal's state when the caller has it already (a run that just finished). */
  state?: JournalState;
  /** Input folders of the run (repairs the journal's view of them; see readJournal). */
  inputs?: readonly string[];
  /** Where placements are journaled: the run's open journal; without it, appended under the journal's lock. */
  appendOrganized?: (records: { path: string; to: string }[]) => Promise<void>;
  /** A host's own limit (browser mode's --root): a file it refuses is a failure, not a placement. */
  allow?: (file: string) => Promise<boolean>;
  isCancelled?: () => boolean;
  /** Placements as they happen, in groups (for a progress display). */
  onActions?: (actions: OrganizeAction[]) => void;
}

const GROUP = 64;

export async function organizeJournal(journalFile: string, options: OrganizeOptions, context: OrganizeJournalContext = {}): Promise<OrganizeReport> {
  const state = context.state ?? (await readJournal(journalFile, context.inputs ? { inputs: context.inputs } : {}));
  const report: OrganizeReport = { copied: 0, linked: 0, planned: 0, already: 0, errors: 0, folders: {}, unclassified: 0, failures: [] };
  const taken = new Set<string>(options.dryRun ? [] : state.organized.values());
  const paths: string[] = [];
  for (const [file, entry] of state.entries) {
    if (entry.error) report.unclassified++;
    else if (!options.dryRun && state.organized.has(file)) {
      report.already++;
      const folder = folderOf(state.organized.get(file) as string, options.dest);
      if (folder) report.folders[folder] = (report.folders[folder] ?? 0) + 1;
    } else paths.push(file);
  }
  paths.sort(comparePaths);
  const append = options.dryRun ? undefined : (context.appendOrganized ?? ((records) => appendOrganizedUnderLock(journalFile, records)));
  let pending: OrganizeAction[] = [];
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    const actions = pending;
    pending = [];
    await append?.(actions.filter((a) => a.status !== 'error').map((a) => ({ path: a.path, to: a.to })));
    context.onActions?.(actions);
  };
  for await (const record of readRecords(journalFile, state.entries, paths)) {
    if (context.isCancelled?.()) break;
    let action: OrganizeAction | undefined;
    if (context.allow && !(await context.allow(record.path))) {
      action = {
        path: record.path,
        to: options.dest,
        folder: '',
        status: 'error',
        error: { code: ErrorCode.PATH_NOT_ALLOWED, message: `${record.path} is outside the folders this host may read` },
      };
    } else action = await organizeOne(record.result, options, taken);
    if (!action) continue;
    if (action.status === 'error') {
      report.errors++;
      report.failures.push(action);
    } else {
      report[action.status]++;
      report.folders[action.folder] = (report.folders[action.folder] ?? 0) + 1;
    }
    pending.push(action);
    if (pending.length >= GROUP) await flush();
  }
  await flush();
  return report;
}

/** The engine's summary (what `reslens batch --json` reports) from a report. */
export function organizeSummary(report: OrganizeReport): OrganizeSummary {
  return { copied: report.copied, linked: report.linked, planned: report.planned, already: report.already, errors: report.errors };
}

/** The class folder of a recorded placement under dest (undefined when it was placed elsewhere). */
function folderOf(to: string, dest: string): string | undefined {
  const prefix = dest.endsWith('/') ? dest : `${dest}/`;
  if (!to.startsWith(prefix)) return undefined;
  return to.slice(prefix.length).split('/')[0];
}

/** Placements of an organise after the run: appended to the finished journal under its lock (a live run holds it). */
async function appendOrganizedUnderLock(journalFile: string, records: { path: string; to: string }[]): Promise<void> {
  if (records.length === 0) return;
  const lock = await lockJournal(journalFile);
  try {
    const handle = await open(journalFile, 'a');
    try {
      await handle.write(records.map((r) => `${JSON.stringify({ organized: r })}\n`).join(''));
      await handle.datasync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw new EngineError(ErrorCode.WRITE_FAILED, `cannot record the organised files in ${journalFile}: ${(error as Error).message}`, {
      item: journalFile,
      cause: error,
    });
  } finally {
    await lock.release();
  }
}
