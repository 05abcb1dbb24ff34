// `reslens worker --queue redis://HOST:6379`: classify chunks of distributed batch runs until
// SIGTERM / SIGINT (the first lets the chunks in hand finish, a second abandons them to the other
// workers). Logs go to stderr; with --json, one JSON line per chunk on stdout.
import envPaths from 'env-paths';
import { type Command, InvalidArgumentError } from 'commander';
import {
  EngineError,
  type EpRequest,
  ErrorCode,
  load,
  parsePathMapping,
  PathAccess,
  type PathMapping,
  type QueueWorker,
  type WorkerModels,
} from '../../engine/index.js';
import type { CliContext } from '../context.js';
import { EP_CHOICES, ExitCode, parseEp, parsePositiveInt } from '../options.js';
import { withHint } from '../hints.js';
import { exitSoonAfterDone } from '../interrupt.js';

interface WorkerFlags {
  queue?: string;
  ep: EpRequest;
  concurrency: number;
  allowRoot: string[];
  pathMap: PathMapping[];
  model: string[];
  jobs?: number;
  stallTimeout: number;
  json?: boolean;
}

const collect =
  <T>(parse: (value: string) => T) =>
  (value: string, previous: T[]): T[] => [...previous, parse(value)];

function parseMapping(value: string): PathMapping {
  try {
    return parsePathMapping(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function parseSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 1 || n > 3600) throw new InvalidArgumentError('expected seconds between 1 and 3600');
  return n;
}

export function registerWorkerCommand(program: Command, context: CliContext): void {
  program
    .command('worker')
    .description('classify images for batch runs started with reslens batch --queue, until stopped (SIGTERM/SIGINT)')
    .requiredOption('--queue <url>', 'Redis URL: redis://[:password@]host[:port][/db], or rediss://… for TLS')
    .option('--ep <provider>', `execution provider: ${EP_CHOICES}`, parseEp, 'auto')
    .option('-c, --concurrency <n>', 'chunks classified at once', parsePositiveInt, 1)
    .option(
      '--allow-root <dir>',
      'read images only under this folder (repeatable); recommended',
      collect((v) => v),
      [] as string[],
    )
    .option(
      '--path-map <local=remote>',
      'the run names files under LOCAL, this machine mounts them at REMOTE (repeatable)',
      collect(parseMapping),
      [] as PathMapping[],
    )
    .option(
      '-m, --model <name|file>',
      'offer this model (catalog name or .onnx file) to runs that ask for its SHA-256 (repeatable; the model store is always searched)',
      collect((v) => v),
      [] as string[],
    )
    .option('-j, --jobs <n>', 'preprocessing worker threads (default: half the cores, 2–8)', parsePositiveInt)
    .option(
      '--stall-timeout <seconds>',
      'a chunk of a worker that stops answering goes to another worker after about this long; must exceed one inference run',
      parseSeconds,
      30,
    )
    .option('--json', 'one JSON line per chunk on stdout')
    .action((flags: WorkerFlags, command: Command) => runWorker(flags, command, context));
}

/** Connects to the queue and classifies its chunks until a signal stops the worker. */
async function runWorker(flags: WorkerFlags, command: Command, context: CliContext): Promise<void> {
  const url = flags.queue as string;
  // Loaded with the command, not at start-up: `reslens --help` needs neither Redis nor onnxruntime.
  const { checkQueueReachable, redactUrl } = await load.queueConnection();
  const { QueueWorker } = await load.queueWorker();
  try {
    await checkQueueReachable(url);
  } catch (error) {
    if (!(error instanceof EngineError)) throw error;
    process.stderr.write(`error ${error.code}: ${error.message}\n`);
    process.exitCode = ExitCode.Usage;
    return;
  }
  const { access, models } = await accessAndModels(flags, command, context);
  const worker = await QueueWorker.start({
    url,
    models,
    access,
    concurrency: flags.concurrency,
    decodeConcurrency: flags.jobs,
    lockMs: flags.stallTimeout * 1000,
    log: context.log,
    onChunk: (info) => {
      if (flags.json) process.stdout.write(`${JSON.stringify({ worker: worker.id, ...info, seconds: Math.round(info.seconds * 1000) / 1000 })}\n`);
    },
  });
  // What it may read first, then the line that says it is ready: whoever watches for "taking
  // chunks" (a supervisor, the tests) has seen the policy by then.
  logReadingPolicy(flags, access, context);
  context.log(`worker ${worker.id}: taking chunks from ${redactUrl(url)} (${flags.concurrency} at a time)`);
  await untilStopped(worker, context);
  const t = worker.totals;
  context.log(`worker ${worker.id} stopped: ${t.images} images in ${t.chunks} chunks (${t.failed} failed, ${t.refused} chunks refused)`);
  process.exitCode = ExitCode.Ok;
  exitSoonAfterDone(); // everything is answered and closed
}

/** The folders the worker may read and the models it offers; a bad folder or model is a usage error. */
async function accessAndModels(flags: WorkerFlags, command: Command, context: CliContext): Promise<{ access: PathAccess; models: WorkerModels }> {
  const { WorkerModels } = await load.queueWorkerModels();
  try {
    const access = await PathAccess.create({ allowRoots: flags.allowRoot, pathMap: flags.pathMap });
    const models = await WorkerModels.create({
      store: context.store(),
      offered: flags.model,
      ep: flags.ep,
      cacheDir: envPaths('reslens', { suffix: '' }).cache,
      log: context.log,
    });
    return { access, models };
  } catch (error) {
    if (error instanceof EngineError && (error.code === ErrorCode.INVALID_ARGUMENT || error.code === ErrorCode.MODEL_NOT_FOUND))
      command.error(`error: ${withHint(error.message, error.hint)}`, { exitCode: ExitCode.Usage, code: 'reslens.usage' });
    throw error;
  }
}

function logReadingPolicy(flags: WorkerFlags, access: PathAccess, context: CliContext): void {
  if (access.restricted) context.log(`reading images only under: ${access.describeRoots()}`);
  else context.log('warning: no --allow-root: this worker reads any image file its user can read that a run names; set --allow-root DIR (see docs/queue.md)');
  for (const m of flags.pathMap) context.log(`path map: ${m.local} → ${m.remote}`);
}

/**
 * Resolves once the worker has stopped: the first SIGTERM / SIGINT lets the chunks in hand finish, a
 * second abandons them to the other workers.
 */
function untilStopped(worker: QueueWorker, context: CliContext): Promise<void> {
  let signals = 0;
  return new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      signals++;
      if (signals === 1) {
        context.log(`${signal}: finishing the chunk in hand, then stopping (again to stop at once; the chunk then goes to another worker)`);
        void worker.stop().then(resolve);
      } else {
        void worker.stop(true).then(resolve);
        setTimeout(() => process.exit(130), 2000).unref();
      }
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
