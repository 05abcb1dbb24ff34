// A batch run as every host drives it (CLI now; the Electron utilityProcess and the WebSocket server
// later): open or resume the journal, stream the pipeline, append .jsonl exports as results arrive,
// write the final export, organise copies, and report everything as plain-data events.
//
//   const job = await startBatch({ inputs, classifier, out: 'results.csv', resume: true, … });
//   job.on((event) => …);          // progress, results, organized, exported, notice
//   job.pause(); job.resume(); job.cancel();
//   const summary = await job.done;
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { EngineError, type ErrorInfo, toErrorInfo } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import type { ClassifyResult } from '../infer/classify-files.js';
import { type ExportFormat, type ExportSummary, JsonlAppender, exportFormatOf, exportJournal } from './export.js';
import {
  type FileKey,
  Journal,
  type JournalIdentity,
  type JournalRecord,
  type JournalState,
  isTransientError,
  journalPathFor,
  readJournal,
} from './journal.js';
import { isSameOrBelow, refuseDestOverInputs } from './containment.js';
import type { OrganizeAction, OrganizeOptions } from './organize.js';
import { type OrganizeSummary, organizeJournal, organizeSummary } from './organize-journal.js';
import { type BatchClassifier, type BatchMode, BatchPipeline, type PipelineOptions } from './pipeline.js';
import type { BatchProgress, PipelineStats, RunControl } from './run-control.js';

export interface BatchRunOptions extends Pick<
  PipelineOptions,
  'inputs' | 'top' | 'batchSize' | 'decodeConcurrency' | 'preprocessIn' | 'maxPixels' | 'walk' | 'lingerMs' | 'progressIntervalMs'
> {
  classifier: BatchClassifier & { readonly labels: readonly string[]; readonly info: { sha256: string } };
  mode?: BatchMode;
  /** Export file: .csv, .json or .jsonl (.ndjson). */
  out: string;
  /** Journal file (default: beside the export, `<out>.reslens-journal.jsonl`). */
  journal?: string;
  /** Continue the journal's run: files already done (same path, size and mtime) are skipped. */
  resume?: boolean;
  /** Start over even if an unfinished journal exists (it is kept as `<journal>.old`). */
  restart?: boolean;
  /** On resume, classify files that failed before again (transient failures always are). */
  retryFailed?: boolean;
  organize?: OrganizeOptions;
  onEvent?: (event: BatchEvent) => void;
  /**
   * Runs the classification elsewhere instead of the local pipeline (queue mode: the coordinator in
   * engine/queue). Journal, resume, exports and organise stay exactly as for a local run; the CSV
   * export then names the worker of each row.
   */
  runner?: (options: PipelineOptions) => BatchRunner;
}

/** What startBatch drives: the local BatchPipeline, or a queue coordinator (both extend RunControl). */
export type BatchRunner = Pick<RunControl, 'run' | 'pause' | 'resume' | 'cancel' | 'progress'>;

export type BatchEvent =
  | { type: 'progress'; progress: BatchProgress }
  | { type: 'results'; results: ClassifyResult[] }
  | { type: 'organized'; actions: OrganizeAction[] }
  | { type: 'exported'; export: ExportSummary }
  | { type: 'notice'; message: string };

export interface BatchSummary {
  state: 'finished' | 'cancelled' | 'failed';
  progress: BatchProgress;
  stats: PipelineStats;
  journal: string;
  export?: ExportSummary;
  organized?: OrganizeSummary;
  /** Results in the export: all sessions together. */
  count: number;
  failed: number;
  error?: ErrorInfo;
}

export interface BatchJob {
  readonly journalFile: string;
  readonly outFile: string;
  on(listener: (event: BatchEvent) => void): () => void;
  pause(): void;
  resume(): void;
  cancel(): void;
  progress(): BatchProgress;
  readonly done: Promise<BatchSummary>;
}

export function journalIdentity(classifier: BatchRunOptions['classifier'], mode: BatchMode, top: number): JournalIdentity {
  return {
    model: { name: classifier.name, sha256: classifier.info.sha256 },
    mode,
    top,
    labelsSha256: createHash('sha256').update(classifier.labels.join('\n')).digest('hex'),
  };
}

/**
 * Opens (or resumes) the journal and starts the run. Throws INVALID_ARGUMENT before anything starts
 * when the export format is unknown or the journal belongs to another run (see Journal.open).
 */
export async function startBatch(options: BatchRunOptions): Promise<BatchJob> {
  const format = exportFormatOf(options.out);
  if (!format)
    throw new EngineError(ErrorCode.INVALID_ARGUMENT, `cannot tell the export format from ${options.out}: use .csv, .json or .jsonl`, { item: options.out });
  const mode = options.mode ?? 'fast';
  const top = options.top ?? 5;
  const journalFile = options.journal ?? journalPathFor(options.out);
  await mkdir(path.dirname(path.resolve(options.out)), { recursive: true });
  if (options.organize) await refuseDestOverInputs(options.organize.dest, options.inputs);
  const journal = await Journal.open(journalFile, {
    identity: journalIdentity(options.classifier, mode, top),
    resume: options.resume === true,
    restart: options.restart === true,
    inputs: options.inputs,
  });
  const previous = journal.previous;
  const listeners = new Set<(event: BatchEvent) => void>();
  if (options.onEvent) listeners.add(options.onEvent);
  const emit = (event: BatchEvent): void => {
    for (const listener of listeners) listener(event);
  };
  const appender = format === 'jsonl' ? await startJsonl(previous, journalFile, options.out) : undefined;
  let jsonlNeedsRewrite = false;

  const run: RunState = { cancelled: false, jsonlNeedsRewrite: () => jsonlNeedsRewrite };
  const pipelineOptions: PipelineOptions = {
    ...options,
    // Copies organised inside the folder being classified must not be classified on the next resume.
    walk: options.organize ? { ...options.walk, exclude: [...(options.walk?.exclude ?? []), options.organize.dest] } : options.walk,
    mode,
    top,
    isDone: doneInJournal(previous, options.retryFailed === true),
    commit: (records: JournalRecord[]) => journal.appendResults(records),
    onResults: async (records: JournalRecord[]) => {
      const results = records.map((r) => r.result);
      if (appender) {
        if (!jsonlNeedsRewrite && records.some((r) => previous.entries.has(r.path))) jsonlNeedsRewrite = true;
        await appender.append(results);
      }
      emit({ type: 'results', results });
    },
    onProgress: (progress) => emit({ type: 'progress', progress }),
    onNotice: (message) => emit({ type: 'notice', message }),
  };
  const pipeline: BatchRunner = options.runner ? options.runner(pipelineOptions) : new BatchPipeline(pipelineOptions);
  const finishing: Finishing = { options, format, journalFile, journal, pipeline, appender, emit, notices: startNotices(previous, options), run };

  // Start on the next turn of the event loop, so a host that attaches listeners right after
  // `await startBatch()` sees every event, the first progress included.
  const done = new Promise<void>((resolve) => setImmediate(resolve)).then(() => finishBatch(finishing));
  return {
    journalFile,
    outFile: options.out,
    on(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    pause: () => pipeline.pause(),
    resume: () => pipeline.resume(),
    cancel: () => {
      run.cancelled = true;
      pipeline.cancel();
    },
    progress: () => pipeline.progress(),
    done,
  };
}

/** What a run tells the user before it starts: journal repairs, an organise folder inside the inputs. */
function startNotices(previous: JournalState, options: BatchRunOptions): string[] {
  const notices: string[] = [];
  if (previous.truncatedBytes > 0) notices.push(`journal: cut off a torn last line (${previous.truncatedBytes} bytes) left by an interrupted write`);
  if (previous.damagedLines > 0) notices.push(`journal: skipped ${previous.damagedLines} damaged line(s); those files are classified again`);
  if (options.organize) {
    const inside = options.inputs.filter((input) => isSameOrBelow(options.organize?.dest as string, input));
    if (inside.length > 0)
      notices.push(
        `organise: ${options.organize.dest} is inside the input ${inside[0]}; files already in it are not classified (they are taken as earlier copies)`,
      );
  }
  return notices;
}

/** .jsonl grows as results arrive: start it from what the journal already holds. */
async function startJsonl(previous: JournalState, journalFile: string, out: string): Promise<JsonlAppender> {
  if (previous.entries.size > 0) await exportJournal(journalFile, out, { state: previous, order: 'journal' });
  else await writeFile(out, '');
  return JsonlAppender.open(out);
}

/** Whether the journal already holds a file's result (unchanged since), so that a resume skips it. */
function doneInJournal(previous: JournalState, retryFailed: boolean): (file: string, key: FileKey | null) => 'ok' | 'failed' | false {
  return (file, key) => {
    const entry = previous.entries.get(file);
    if (!entry) return false;
    if (key === null) return entry.error ? false : 'ok';
    if (entry.size !== key.size || entry.mtimeMs !== key.mtimeMs) return false;
    if (entry.error) return retryFailed || isTransientError(entry.error) ? false : 'failed';
    return 'ok';
  };
}

/** What the host's cancel and the results handler change while the run is going. */
interface RunState {
  cancelled: boolean;
  jsonlNeedsRewrite: () => boolean;
}

interface Finishing {
  options: BatchRunOptions;
  format: ExportFormat;
  journalFile: string;
  journal: Journal;
  pipeline: BatchRunner;
  appender: JsonlAppender | undefined;
  emit: (event: BatchEvent) => void;
  notices: string[];
  run: RunState;
}

/** Runs the pipeline to its end, then writes the final export, organises, and marks the journal finished. */
async function finishBatch({ options, format, journalFile, journal, pipeline, appender, emit, notices, run }: Finishing): Promise<BatchSummary> {
  for (const message of notices) emit({ type: 'notice', message });
  const outcome = await pipeline.run();
  await appender?.close();
  let error = outcome.error;
  let exported: ExportSummary | undefined;
  let organized: OrganizeSummary | undefined;
  let count = 0;
  let failed = 0;
  try {
    const state = await readJournal(journalFile, { inputs: options.inputs });
    if (format !== 'jsonl' || run.jsonlNeedsRewrite()) {
      exported = await exportJournal(journalFile, options.out, {
        state,
        order: format === 'jsonl' ? 'journal' : 'path',
        ...(options.runner ? { worker: true } : {}),
      });
    } else {
      exported = { file: options.out, format, count: state.entries.size, failed: [...state.entries.values()].filter((e) => e.error).length };
    }
    count = exported.count;
    failed = exported.failed;
    emit({ type: 'exported', export: exported });
    if (options.organize && outcome.state !== 'failed') {
      organized = organizeSummary(
        await organizeJournal(journalFile, options.organize, {
          state,
          appendOrganized: (records) => journal.appendOrganized(records),
          isCancelled: () => run.cancelled,
          onActions: (actions) => emit({ type: 'organized', actions }),
        }),
      );
    }
    if (outcome.state === 'finished' && !run.cancelled) await journal.markFinished({ done: count, failed });
  } catch (caught) {
    error ??= toErrorInfo(caught, ErrorCode.READ_FAILED);
  } finally {
    await journal.close();
  }
  const state = error && outcome.state !== 'cancelled' ? 'failed' : run.cancelled ? 'cancelled' : outcome.state;
  return {
    state,
    progress: pipeline.progress(),
    stats: outcome.stats,
    journal: journalFile,
    count,
    failed,
    ...(exported ? { export: exported } : {}),
    ...(organized ? { organized } : {}),
    ...(error ? { error } : {}),
  };
}
