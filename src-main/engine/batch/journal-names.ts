// The names and refusals of batch journals that hosts need before a run starts (`reslens batch`'s
// early checks), apart from journal.ts: that one validates records with zod, which the CLI's start
// (`--help`, every command's option parsing) must not load (see engine/index.ts).
import path from 'node:path';
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';

export const JOURNAL_SUFFIX = '.reslens-journal.jsonl';

export function journalPathFor(outFile: string): string {
  return `${outFile}${JOURNAL_SUFFIX}`;
}

/** The refusal for a new run over an unfinished journal (shared by Journal.open and hosts' early checks). */
export function unfinishedRunError(file: string, done: number): EngineError {
  return new EngineError(ErrorCode.INVALID_ARGUMENT, `${file} holds an unfinished run (${done} images done)`, {
    item: file,
    hint: { actions: ['resume', 'restart'], file },
  });
}

export type ExportFormat = 'csv' | 'json' | 'jsonl';

export function exportFormatOf(file: string): ExportFormat | undefined {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.json') return 'json';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  return undefined;
}
