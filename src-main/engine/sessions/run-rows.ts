// A kept run's results, read back from its journal: what reopening a session shows, and what a
// resume starts from.
import { access, stat } from 'node:fs/promises';
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import type { ClassifyResult } from '../infer/classify-files.js';
import { type JournalState, isTransientError, readJournal, readRecords } from '../batch/journal.js';

export interface RunRows {
  /** The latest result per file, in the order they were produced. */
  results: ClassifyResult[];
  state: JournalState;
}

/**
 * Reads the journal of a run on `folder`. Records for paths outside the folder (a hand-edited
 * journal, or one copied from another machine) are left out by readJournal's `inputs` filter.
 *
 * `forResume`: the rows a resume keeps. Results the resume will redo are left out so each file has
 * one row: failures when `retryFailed`, transient failures (a file that was missing, a cancelled
 * image) always, and files changed since (size or mtime: an edited photo), as the batch run
 * classifies those again.
 */
export async function readRunRows(journalFile: string, folder: string, options: { forResume?: { retryFailed: boolean } } = {}): Promise<RunRows> {
  try {
    await access(journalFile);
  } catch {
    throw new EngineError(
      ErrorCode.FILE_NOT_FOUND,
      "this run's journal is gone (its folder in the data folder was deleted): forget the run, or start a new batch on the folder",
      { item: journalFile },
    );
  }
  const state = await readJournal(journalFile, { inputs: [folder] });
  const redo = options.forResume;
  let kept = [...state.entries.entries()].filter(([, entry]) => !redo || !entry.error || (!redo.retryFailed && !isTransientError(entry.error)));
  if (redo) {
    const changed = await Promise.all(
      kept.map(([file, entry]) =>
        stat(file).then(
          (info) => info.size !== entry.size || Math.round(info.mtimeMs) !== entry.mtimeMs, // rounded as the pipeline keys files
          () => false, // gone: its old result stays in the run's history
        ),
      ),
    );
    kept = kept.filter((_, i) => !changed[i]);
  }
  const paths = kept.sort((a, b) => a[1].offset - b[1].offset).map(([file]) => file);
  const results: ClassifyResult[] = [];
  for await (const record of readRecords(journalFile, state.entries, paths)) results.push(record.result);
  return { results, state };
}
