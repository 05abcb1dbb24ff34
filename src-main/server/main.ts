// `npm run serve -- [--model NAME|PATH] [--port N] [--root DIR] [--ep EP] [--models-dir DIR]`:
// the engine in-process and the UI for a browser, on 127.0.0.1 only. Prints exactly one line on
// stdout once ready — `ResLens running at http://127.0.0.1:<port>/?token=<token>` — and everything
// else on stderr.
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { EP_NAMES, type EpRequest, findPackageFile, load, removeDeadRunDirs } from '../engine/index.js';
import { EngineService } from '../service/engine-service.js';
import { ensureRendererBuilt } from './renderer-build.js';
import { ReslensServer, errorValue } from './server.js';
import { DEFAULT_UPLOAD_LIMIT, defaultUploadQuota } from './uploads.js';
import { defaultDataDir } from '../engine/index.js';

// Found by walking up, so the same from the sources and from the bundle in dist/node/server.
const REPO_ROOT = path.dirname(findPackageFile('package.json'));
export const DEFAULT_STATIC_DIR = path.join(REPO_ROOT, 'dist', 'renderer');

interface ServeOptions {
  model: string;
  port: number;
  root: string;
  ep: EpRequest;
  modelsDir?: string;
  static?: string;
  uploadLimitMb: number;
  uploadQuotaMb?: number;
  exitWithStdin?: boolean;
  queue?: string;
  dataDir?: string;
}

const integer = (min: number, max: number) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
  return n;
};

function program(): Command {
  return new Command('reslens-serve')
    .description('Serve the ResLens UI to a browser on this machine (127.0.0.1 only, with a per-run token).')
    .option('--model <name|path>', 'model loaded at start: a catalog name, an imported name or an .onnx file', 'resnet50')
    .option('--port <n>', 'TCP port on 127.0.0.1 (0 picks a free one)', integer(0, 65535), 0)
    .option('--root <dir>', 'batch mode may open folders under this one only', os.homedir())
    .addOption(new Option('--ep <ep>', 'execution provider').choices(EP_NAMES).default('auto'))
    .option('--models-dir <dir>', 'model store folder (default: per-user data folder, or $RESLENS_MODELS_DIR)')
    .option('--static <dir>', 'serve this built renderer instead of dist/renderer (no rebuild check)')
    .option('--upload-limit-mb <n>', 'largest file the browser may upload', integer(1, 4096), DEFAULT_UPLOAD_LIMIT / (1024 * 1024))
    .option('--upload-quota-mb <n>', 'all uploads together (default: 2048, or a tenth of the temp folder’s free space if less)', integer(1, 1024 * 1024))
    .option('--queue <url>', 'Redis URL of a batch queue: offers "Run on workers" in the Batch view (docs/queue.md); default $RESLENS_QUEUE_URL')
    .option('--data-dir <dir>', 'where kept batch runs and thumbnails go (default: the per-user data folder, or $RESLENS_DATA_DIR)')
    .addOption(new Option('--exit-with-stdin', 'stop when stdin closes (for test harnesses)').hideHelp())
    .showHelpAfterError();
}

export async function serve(argv: string[]): Promise<void> {
  const cli = program();
  cli.parse(argv, { from: 'user' });
  const options = cli.opts<ServeOptions>();

  const staticDir = options.static ? path.resolve(options.static) : DEFAULT_STATIC_DIR;
  if (!options.static) await ensureRendererBuilt({ repoRoot: REPO_ROOT, outDir: staticDir, log: (l) => process.stderr.write(`${l}\n`) });

  // Leftovers of runs that died without cleaning up (SIGKILL, a crash): their uploads and batch files.
  for (const dir of await removeDeadRunDirs()) process.stderr.write(`removed ${dir} (left by a run that ended without cleaning up)\n`);

  const queueUrl = options.queue ?? (process.env.RESLENS_QUEUE_URL?.trim() || undefined);
  if (queueUrl) (await load.queueConnection()).checkQueueUrl(queueUrl);
  let service: EngineService | undefined;
  const server = await ReslensServer.start({
    staticDir,
    root: path.resolve(options.root),
    port: options.port,
    uploadLimitBytes: options.uploadLimitMb * 1024 * 1024,
    uploadQuota: { totalBytes: options.uploadQuotaMb ? options.uploadQuotaMb * 1024 * 1024 : await defaultUploadQuota() },
    createService: (host) =>
      (service = new EngineService({
        host,
        modelsDir: options.modelsDir,
        initialModel: options.model,
        ep: options.ep,
        queueUrl,
        dataDir: defaultDataDir(options.dataDir),
      })),
  });

  let stopping = false;
  const uploadsDir = await server.uploads.folder();
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await server.close().catch(() => undefined);
    await service?.dispose().catch(() => undefined);
    process.exit(code);
  };
  // Last resort for the temp folder when the process ends some other way.
  process.on('exit', () => rmSync(uploadsDir, { recursive: true, force: true }));
  // Signals are handled between engine calls (an inference blocks this thread for its duration, well
  // under a second per image on a CPU); run as plain `node --import tsx` (npm run serve) so no wrapper
  // SIGKILLs this process before it has cleaned up. A second signal quits at once.
  let signals = 0;
  const onSignal = () => {
    if (++signals > 1) process.exit(1);
    void stop(0);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  // Orphaned (the parent that started us, e.g. npm, was killed): stop rather than keep serving with a
  // token nobody holds. Checked every second; unref'd so it never keeps the process alive.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) void stop(0);
  }, 1000).unref();
  if (options.exitWithStdin) {
    process.stdin.on('end', () => void stop(0));
    process.stdin.on('close', () => void stop(0));
    process.stdin.resume();
  }

  process.stderr.write(`loading model ${options.model} …\n`);
  try {
    await service?.start();
  } catch (error) {
    const info = errorValue(error);
    server.notice = `could not load ${options.model}: ${info.message}`;
    process.stderr.write(`error ${info.code}: ${info.message}\n(serving anyway: choose another model in the model picker)\n`);
  }
  process.stdout.write(`ResLens running at ${server.url}\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  serve(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
