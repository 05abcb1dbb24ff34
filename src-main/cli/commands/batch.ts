// `reslens batch DIR... --out results.csv`: classify whole folders with a progress bar, a journal
// that survives crashes (--resume continues), an export by the --out file's extension, and optional
// organised copies by predicted class. Stdout stays free for --dry-run plans; progress and the
// summary go to stderr.
import path from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import {
  type BatchEvent,
  type BatchJob,
  type BatchSummary,
  type Classifier,
  EngineError,
  ErrorCode,
  exportFormatOf,
  journalLockHolder,
  journalPathFor,
  journalStatus,
  load,
  lockedError,
  type OrganizeMode,
  type QueueProgress,
  type RemoteModel,
  unfinishedRunError,
  type WorkerRate,
} from '../../engine/index.js';
import type { CliContext } from '../context.js';
import { addBatchSizeOption, addModelOptions, addPrecisionOption, ExitCode, type ModelFlags, parsePositiveInt, type PrecisionFlag } from '../options.js';
import { createProgress, formatDuration, type ProgressReporter, runProgressState } from '../progress.js';
import { endLines, withHint } from '../hints.js';
import { EXIT_INTERRUPTED, exitSoonAfterDone, waitInterruptibly } from '../interrupt.js';

interface BatchFlags extends ModelFlags {
  precision: PrecisionFlag;
  out?: string;
  top: number;
  batch: number | 'auto';
  exact?: boolean;
  resume?: boolean;
  restart?: boolean;
  retryFailed?: boolean;
  organize?: string;
  minProb?: number;
  organizeMode: OrganizeMode;
  dryRun?: boolean;
  hidden?: boolean;
  followSymlinks: boolean;
  jobs?: number;
  queue?: string;
  chunk?: number;
}

function workersLine(workers: readonly WorkerRate[]): string {
  return `workers: ${workers.map((w) => `${w.worker} ${w.imagesPerSecond.toFixed(1)}/s (${w.done}${w.failed > 0 ? `, ${w.failed} failed` : ''})`).join(' · ')}`;
}

/** Exit status when the user interrupted the run (128 + SIGINT), as shells report it. */

function parseProbability(value: string): number {
  const p = Number(value);
  if (!Number.isFinite(p) || p < 0 || p > 1) throw new InvalidArgumentError('expected a probability between 0 and 1');
  return p;
}

function parseOrganizeMode(value: string): OrganizeMode {
  if (value !== 'copy' && value !== 'hardlink' && value !== 'symlink') throw new InvalidArgumentError('expected copy, hardlink or symlink');
  return value;
}

function summaryLines(summary: BatchSummary, seconds: number, flags: BatchFlags): string[] {
  const { progress } = summary;
  const thisRun = progress.done - progress.resumed;
  const rate = seconds > 0 && thisRun > 0 ? ` · ${(thisRun / seconds).toFixed(1)} images/s` : '';
  const earlier = progress.resumed > 0 ? ` (${progress.resumed} done in an earlier run)` : '';
  const lines = [`${summary.count - summary.failed} classified, ${summary.failed} failed${earlier}; this run: ${thisRun} in ${formatDuration(seconds)}${rate}`];
  if (summary.export)
    lines.push(
      `results: ${summary.export.file} (${summary.export.count} ${summary.export.format === 'csv' ? 'rows' : 'entries'}) · journal: ${summary.journal}`,
    );
  const o = summary.organized;
  if (o && flags.organize) {
    const where = flags.organize;
    if (flags.dryRun) lines.push(`organise (dry run): ${o.planned} files would go into ${where}; nothing was copied`);
    else lines.push(`organised into ${where}: ${o.copied} copied, ${o.linked} linked, ${o.already} already there${o.errors > 0 ? `, ${o.errors} failed` : ''}`);
  }
  lines.push(...endLines(summary));
  return lines;
}

type Usage = (message: string) => never;

/** Checks the flags that depend on each other; returns the absolute --out path. */
async function checkFlags(flags: BatchFlags, usage: Usage): Promise<string> {
  if (!flags.out) usage('--out <file> is required (results.csv, results.json or results.jsonl)');
  const out = path.resolve(flags.out as string);
  if (!exportFormatOf(out)) usage(`cannot tell the export format from ${flags.out}: use .csv, .json or .jsonl`);
  if (flags.resume && flags.restart) usage('--resume and --restart exclude each other');
  if (flags.retryFailed && !flags.resume) usage('--retry-failed needs --resume');
  if (!flags.organize && (flags.minProb !== undefined || flags.dryRun)) usage('--min-prob and --dry-run need --organize <dest>');
  if (flags.chunk !== undefined && !flags.queue) usage('--chunk needs --queue <url>');
  if (flags.queue && flags.precision === 'int8') usage('--precision int8 is not available with --queue yet: workers load the fp32 model by its SHA-256');
  if (flags.queue) {
    const { checkQueueUrl } = await load.queueConnection(); // loads the Redis client only in queue mode
    try {
      checkQueueUrl(flags.queue);
    } catch (error) {
      usage((error as Error).message);
    }
  }
  return out;
}

/** Errors the user fixes by changing the command: exit 2 with the engine's hint in CLI words; false for any other. */
function refused(error: unknown): boolean {
  const usageCodes: string[] = [ErrorCode.INVALID_ARGUMENT, ErrorCode.JOURNAL_LOCKED, ErrorCode.QUEUE_UNAVAILABLE];
  if (!(error instanceof EngineError) || !usageCodes.includes(error.code)) return false;
  process.stderr.write(`error ${error.code}: ${withHint(error.message, error.hint)}\n`);
  process.exitCode = ExitCode.Usage;
  return true;
}

/** An unfinished run, or another live run on this --out (journal-lock.ts), is refused before the model loads. */
async function refusedBeforeLoading(out: string, flags: BatchFlags): Promise<boolean> {
  try {
    const journal = journalPathFor(out);
    const status = await journalStatus(journal);
    const holder = await journalLockHolder(journal);
    if (holder) throw lockedError(journal, holder);
    if (status && !status.finished && !flags.resume && !flags.restart) throw unfinishedRunError(journal, status.done);
  } catch (error) {
    if (refused(error)) return true;
    throw error;
  }
  return false;
}

/** The model the run classifies with: loaded here, or (queue mode) described here and loaded by the workers. */
interface BatchModel {
  local?: Classifier;
  remote?: RemoteModel;
  labels: readonly string[];
  /** Where an int8 copy made for this run was calibrated. */
  calibratedOn?: string;
}

async function prepareModel(inputs: string[], flags: BatchFlags, context: CliContext): Promise<BatchModel> {
  if (flags.queue) {
    const { describeRemoteModel } = await load.queueRemoteModel();
    // Queue mode: the model is read here (identity, labels) but loaded by the workers.
    const remote = await describeRemoteModel(flags.model, { store: context.store(), labelsFile: flags.labels });
    if (!remote.pretrained && !flags.labels)
      context.log(
        `note: ${remote.name} is not a catalog model: its outputs are shown with ImageNet class names, which is only meaningful if it was trained on ImageNet-1k`,
      );
    return { remote, labels: remote.labels };
  }
  // --precision int8 and no quantised copy yet: one is calibrated on the batch's first photos (said on stderr and in the summary).
  let calibratedOn: string | undefined;
  if (flags.precision === 'int8') {
    const { calibrateOnBatchIfMissing } = await load.quantizeAutoCalibrate();
    const resolved = await context.resolve(flags.model);
    const made = await calibrateOnBatchIfMissing({
      modelPath: resolved.path,
      modelName: resolved.name,
      storeDir: context.store().dir,
      preprocessing: resolved.preprocessing,
      inputs: inputs.map((input) => path.resolve(input)),
      walk: { includeHidden: flags.hidden, followSymlinks: flags.followSymlinks },
      onProgress: (message) => context.log(message),
    });
    calibratedOn = made?.source;
  }
  const local = await context.loadClassifier({ model: flags.model, ep: flags.ep, labelsFile: flags.labels, precision: flags.precision });
  return { local, labels: local.labels, calibratedOn };
}

/** Starts the run on this machine or on the queue's workers; undefined when it was refused (exit status set). */
async function startJob(inputs: string[], out: string, flags: BatchFlags, model: BatchModel): Promise<BatchJob | undefined> {
  const common = {
    // Absolute paths: the journal's resume key then holds whatever the working directory.
    inputs: inputs.map((input) => path.resolve(input)),
    out,
    top: flags.top,
    batchSize: flags.batch === 'auto' ? undefined : flags.batch,
    mode: flags.exact ? ('exact' as const) : ('fast' as const),
    resume: flags.resume,
    restart: flags.restart,
    retryFailed: flags.retryFailed,
    walk: { includeHidden: flags.hidden, followSymlinks: flags.followSymlinks },
    organize: flags.organize
      ? { dest: path.resolve(flags.organize), minProb: flags.minProb, mode: flags.organizeMode, dryRun: flags.dryRun, labels: model.labels }
      : undefined,
  };
  try {
    if (model.remote) {
      const { startQueueBatch } = await load.queueBatch();
      return await startQueueBatch({ ...common, model: model.remote, queue: { url: flags.queue as string, chunkSize: flags.chunk } });
    }
    const { startBatch } = await load.batchRun(); // the engine loads with the command
    return await startBatch({ ...common, classifier: model.local as Classifier, decodeConcurrency: flags.jobs });
  } catch (error) {
    if (refused(error)) return undefined;
    throw error;
  }
}

/** Shows the run's events on stderr (a dry run's plan on stdout); keeps the latest per-worker rates (queue mode). */
function showEvents(job: BatchJob, flags: BatchFlags, context: CliContext): { progress: ProgressReporter; workers: () => WorkerRate[] } {
  const progress = createProgress(flags.exact ? 'classifying (exact)' : 'classifying');
  let workers: WorkerRate[] = [];
  let workersShownAt = 0;
  job.on((event: BatchEvent) => {
    if (event.type === 'progress') {
      const p = event.progress;
      progress.update(runProgressState(p));
      // Queue mode: per-worker rates, on their own line now and then (not on a terminal's bar).
      const listed = (p as Partial<QueueProgress>).workers;
      if (listed && listed.length > 0) {
        const now = performance.now();
        if ((listed.length !== workers.length || now - workersShownAt > 15_000) && !process.stderr.isTTY) {
          workersShownAt = now;
          context.log(workersLine(listed));
        }
        workers = listed;
      }
    } else if (event.type === 'notice') {
      context.log(`note: ${event.message}`);
    } else if (event.type === 'organized' && flags.dryRun) {
      for (const action of event.actions) process.stdout.write(`${action.path}\t${action.to}\n`);
    } else if (event.type === 'organized') {
      for (const action of event.actions.filter((a) => a.status === 'error')) context.log(`organise: ${action.path}: ${action.error?.message}`);
    }
  });
  return { progress, workers: () => workers };
}

function exitCodeOf(summary: BatchSummary): number {
  if (summary.state === 'cancelled') return EXIT_INTERRUPTED;
  if (summary.state === 'failed') return ExitCode.SomeFailed;
  return summary.failed > 0 || (summary.organized?.errors ?? 0) > 0 ? ExitCode.SomeFailed : ExitCode.Ok;
}

export function registerBatchCommand(program: Command, context: CliContext): void {
  const command = program
    .command('batch')
    .description('classify folders of images (walked recursively) into a results file; resumable, with optional copies organised by class')
    .argument('<inputs...>', 'folders and/or image files')
    .option('-o, --out <file>', 'results file: .csv, .json or .jsonl (the journal is written beside it as <file>.reslens-journal.jsonl)');
  addModelOptions(command);
  addBatchSizeOption(command);
  addPrecisionOption(
    command,
    'the quantised copy made by `reslens quantize`, or, when there is none yet, one calibrated on the first 50 photos of this batch (faster on the CPU, results marked "precision":"int8")',
  );
  command
    .option('-k, --top <k>', 'number of classes to keep per image', parsePositiveInt, 5)
    .option(
      '--exact',
      'decode every image in full (bit-exact with torchvision); default: large JPEGs decode at reduced size (shrink-on-load), about twice as fast on large photos',
    )
    .option('--resume', 'continue the run recorded in the journal: files already done (same path, size and time) are skipped')
    .option('--restart', 'start over even if the journal holds an unfinished run (the old journal is kept as .old)')
    .option('--retry-failed', 'with --resume: classify files that failed before again')
    .option('--organize <dest>', 'copy each classified file into DEST/<top-1 label>/ (originals are never moved or changed)')
    .option('--min-prob <p>', 'with --organize: files whose top-1 probability is below p go to DEST/_uncertain/', parseProbability)
    .option('--organize-mode <mode>', 'with --organize: copy, hardlink (copy across volumes) or symlink', parseOrganizeMode, 'copy' as OrganizeMode)
    .option('--dry-run', 'with --organize: print where each file would go (on stdout) and copy nothing')
    .option('--hidden', 'include hidden files and folders')
    .option('--no-follow-symlinks', 'do not follow symbolic links to files or folders')
    .option('-j, --jobs <n>', 'preprocessing worker threads, i.e. images decoding at once (default: half the cores, 2–8)', parsePositiveInt)
    .option(
      '--queue <url>',
      'classify on reslens worker processes through Redis (redis://[:password@]host[:port], rediss:// for TLS); the journal and exports stay here',
    )
    .option('--chunk <n>', 'with --queue: images per chunk sent to a worker (default 32)', parsePositiveInt)
    .action(async (inputs: string[], flags: BatchFlags, command: Command) => {
      const usage = (message: string): never => command.error(`error: ${message}`, { exitCode: ExitCode.Usage, code: 'reslens.usage' });
      const out = await checkFlags(flags, usage);
      if (await refusedBeforeLoading(out, flags)) return;
      const model = await prepareModel(inputs, flags, context);
      try {
        const job = await startJob(inputs, out, flags, model);
        if (!job) return;
        const shown = showEvents(job, flags, context);
        // Ctrl-C: stop after the batch running (its results are kept); a second Ctrl-C quits at once.
        const { summary, seconds } = await waitInterruptibly<BatchSummary>(job, shown.progress, context.log);
        for (const line of summaryLines(summary, seconds, flags)) context.log(line);
        if (model.calibratedOn) context.log(`int8: calibrated for this run on ${model.calibratedOn}; the copy is kept in the model store for the next runs`);
        if (shown.workers().length > 0) context.log(workersLine(shown.workers()));
        if (summary.count === 0 && summary.state === 'finished') context.log('no images found in the given inputs');
        process.exitCode = exitCodeOf(summary);
        if (flags.queue) exitSoonAfterDone(); // the journal and exports are complete
      } finally {
        await model.local?.dispose();
      }
    });
}
