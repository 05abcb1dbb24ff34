// Exports of a batch's results, chosen by the output file's extension:
//   .csv          one row per file: path, top-k (index, label, probability per rank), model, provider,
//                 milliseconds, precision (fp32 or int8: the numbers the result was computed in), error
//                 code and message. RFC 4180 quoting (fields with a comma, quote,
//                 CR or LF, or leading/trailing spaces are quoted, quotes doubled), UTF-8 without BOM,
//                 CRLF line ends as the RFC says.
//   .json         {"reslens":"batch-results","model","ep","mode","top","count","failed","precision","results":[…]}
//                 (precision: fp32, int8, or mixed when a resumed run changed it; each int8 result also
//                 carries "precision":"int8", as in classify --json)
//   .jsonl/.ndjson  exactly the objects of `classify --json`, one a line, appended as results arrive.
// .csv and .json are written from the journal when a run ends (or is cancelled), sorted by path the
// way the folder walk orders them, each file once (its latest result), through a temporary file
// renamed into place, so a reader never sees half a file.
import { createWriteStream, type WriteStream } from 'node:fs';
import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import { tempPathFor } from '../core/files.js';
import type { ClassifyResult } from '../infer/classify-files.js';
import { type JournalState, readJournal, readRecords } from './journal.js';
import { type ExportFormat, exportFormatOf } from './journal-names.js';
export { type ExportFormat, exportFormatOf } from './journal-names.js';

/** A plain decimal number (probabilities, indices, milliseconds): left as it is. */
const PLAIN_NUMBER = /^-?\d+(\.\d+)?(e[-+]?\d+)?$/i;

/**
 * Formula injection (OWASP "CSV Injection"): a spreadsheet runs a cell that starts with = + - @ (or a
 * tab or CR before one) as a formula, and a label from a model file can be `=HYPERLINK(…)`. Such a
 * cell gets a leading apostrophe, which spreadsheets show as text. Plain numbers are left alone.
 */
export function neutraliseFormula(text: string): string {
  return /^[=+\-@\t\r]/.test(text) && !PLAIN_NUMBER.test(text) ? `'${text}` : text;
}

/** One CSV field, quoted only when it must be, never a formula. */
export function csvField(value: string | number | undefined): string {
  if (value === undefined) return '';
  const text = typeof value === 'number' ? String(value) : neutraliseFormula(value);
  return /[",\r\n]/.test(text) || /^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** `worker`: a queue run's export ends each row with the worker (host:pid) that classified it. */
export function csvHeader(top: number, worker = false): string[] {
  const columns = ['path'];
  for (let rank = 1; rank <= top; rank++) columns.push(`top${rank}_index`, `top${rank}_label`, `top${rank}_prob`);
  columns.push('model', 'ep', 'ms', 'precision', 'error_code', 'error_message');
  if (worker) columns.push('worker');
  return columns;
}

export function csvRow(result: ClassifyResult, top: number, worker = false): string[] {
  const row = [result.path];
  const classes = 'top' in result ? result.top : [];
  for (let rank = 0; rank < top; rank++) {
    const c = classes[rank];
    row.push(c ? String(c.index) : '', c ? c.label : '', c ? String(c.prob) : '');
  }
  if ('error' in result) row.push('', '', '', '', result.error.code, result.error.message);
  else row.push(result.model, result.ep, String(result.ms), precisionOf(result), '', '');
  if (worker) row.push(result.worker ?? '');
  return row;
}

/** What a result was computed in: results without the field are fp32 (classify --json leaves it out for them). */
export const precisionOf = (result: { precision?: 'int8' }): 'fp32' | 'int8' => result.precision ?? 'fp32';

export const csvLine = (fields: string[]): string => `${fields.map(csvField).join(',')}\r\n`;

/** The classify --json object: exactly these keys, in this order (plus `worker` for a queue run's results). */
export function resultObject(result: ClassifyResult): ClassifyResult {
  const worker = result.worker === undefined ? {} : { worker: result.worker };
  if ('error' in result) return { path: result.path, error: { code: result.error.code, message: result.error.message }, ...worker };
  return {
    path: result.path,
    top: result.top.map((t) => ({ index: t.index, label: t.label, prob: t.prob })),
    model: result.model,
    ep: result.ep,
    ms: result.ms,
    ...(result.precision ? { precision: result.precision } : {}),
    ...worker,
  };
}

/** Sorts paths folder by folder, names by code unit: the order the folder walk produces. */
export function comparePaths(a: string, b: string): number {
  const as = a.split(/[\\/]/);
  const bs = b.split(/[\\/]/);
  const n = Math.min(as.length, bs.length);
  for (let i = 0; i < n; i++) {
    if (as[i] === bs[i]) continue;
    // A folder's own files and subfolders interleave by name in the walk; compare the names alone.
    return as[i] < bs[i] ? -1 : 1;
  }
  return as.length - bs.length;
}

async function write(stream: WriteStream, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, 'drain');
}

async function closeStream(stream: WriteStream): Promise<void> {
  stream.end();
  await once(stream, 'close');
}

export interface ExportSummary {
  file: string;
  format: ExportFormat;
  count: number;
  failed: number;
}

/**
 * Writes the journal's results to `outFile` in the format its extension names. Memory holds the paths
 * and their journal offsets, not the results: records are read back one at a time.
 */
export async function exportJournal(
  journalFile: string,
  outFile: string,
  options: { state?: JournalState; ep?: string; order?: 'path' | 'journal'; worker?: boolean } = {},
): Promise<ExportSummary> {
  const format = exportFormatOf(outFile);
  if (!format) throw new EngineError(ErrorCode.INVALID_ARGUMENT, `cannot tell the export format from ${outFile}: use .csv, .json or .jsonl`, { item: outFile });
  const state = options.state ?? (await readJournal(journalFile));
  const paths = [...state.entries.entries()];
  if ((options.order ?? (format === 'jsonl' ? 'journal' : 'path')) === 'path') paths.sort((a, b) => comparePaths(a[0], b[0]));
  else paths.sort((a, b) => a[1].offset - b[1].offset);
  const { top } = state.header;
  // Streamed (a run's rows can be many), so not replaceFile; its temporary name and exclusive open.
  const temp = tempPathFor(outFile);
  const stream = createWriteStream(temp, { encoding: 'utf8', flags: 'wx', mode: 0o644 });
  let count = 0;
  let failed = 0;
  let ep = options.ep;
  const precisions = new Set<string>();
  try {
    if (format === 'csv') await write(stream, csvLine(csvHeader(top, options.worker)));
    if (format === 'json') {
      // The run's provider is the one most results name; a resumed run on another machine may differ per row.
      await write(
        stream,
        `{"reslens":"batch-results","model":${JSON.stringify(state.header.model.name)},"mode":${JSON.stringify(state.header.mode)},"top":${top},"results":[`,
      );
    }
    for await (const record of readRecords(
      journalFile,
      state.entries,
      paths.map(([p]) => p),
    )) {
      const result = resultObject(record.result);
      if ('error' in result) failed++;
      else {
        ep ??= result.ep;
        precisions.add(precisionOf(result));
      }
      if (format === 'csv') await write(stream, csvLine(csvRow(result, top, options.worker)));
      else if (format === 'json') await write(stream, `${count > 0 ? ',' : ''}\n${JSON.stringify(result)}`);
      else await write(stream, `${JSON.stringify(result)}\n`);
      count++;
    }
    const precision = precisions.size > 1 ? 'mixed' : ([...precisions][0] ?? null);
    if (format === 'json')
      await write(stream, `\n],"count":${count},"failed":${failed},"ep":${JSON.stringify(ep ?? null)},"precision":${JSON.stringify(precision)}}\n`);
    await closeStream(stream);
    await rename(temp, outFile);
  } catch (error) {
    stream.destroy();
    await rm(temp, { force: true });
    throw error;
  }
  return { file: outFile, format, count, failed };
}

/** Appends classify --json lines to a .jsonl export as results arrive (tail -f friendly). */
export class JsonlAppender {
  private constructor(private handle: FileHandle | undefined) {}

  static async open(file: string): Promise<JsonlAppender> {
    return new JsonlAppender(await open(file, 'a'));
  }

  async append(results: readonly ClassifyResult[]): Promise<void> {
    if (!this.handle || results.length === 0) return;
    await this.handle.write(results.map((r) => `${JSON.stringify(resultObject(r))}\n`).join(''));
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }
}
