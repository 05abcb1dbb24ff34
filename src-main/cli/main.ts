// The `reslens` command line: one commander program, one module per command.
import { Command, CommanderError } from 'commander';
import { EngineError } from '../engine/index.js';
import { registerBatchCommand } from './commands/batch.js';
import { registerBlocksCommand } from './commands/blocks.js';
import { registerLesionCommand } from './commands/lesion.js';
import { registerClassifyCommand } from './commands/classify.js';
import { registerDoctorCommand } from './commands/doctor.js';
import { registerExplainCommand } from './commands/explain.js';
import { registerFeaturesCommand } from './commands/features.js';
import { registerInspectCommand } from './commands/inspect.js';
import { registerModelsCommand } from './commands/models.js';
import type { CliContext } from './context.js';
import { registerQuantizeCommand } from './commands/quantize.js';
import { ExitCode, UsageError } from './options.js';
import { withHint } from './hints.js';
import { registerWorkerCommand } from './commands/worker.js';
import { registerReportCommand } from './commands/report.js';

export function buildProgram(): Command {
  const program = new Command('reslens');
  program
    .description('See what a deep residual network sees: classify images with ResNet-50/152 ONNX models.')
    .option('--models-dir <dir>', 'model store folder (default: per-user data folder, or $RESLENS_MODELS_DIR)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  // Commands resolve the context lazily, after global options are parsed. It is imported only
  // when a command runs: it pulls in the engine (onnxruntime, sharp), which `--help` never needs.
  let context: CliContext | undefined;
  program.hook('preAction', async () => {
    const { createCliContext } = await import('./context.js');
    context ??= await createCliContext({ modelsDir: program.opts<{ modelsDir?: string }>().modelsDir });
  });
  const lazy = (): CliContext => {
    if (!context) throw new Error('the CLI context is used before a command runs');
    return context;
  };
  const proxy: CliContext = {
    store: () => lazy().store(),
    modelPath: (m) => lazy().modelPath(m),
    loadClassifier: (o) => lazy().loadClassifier(o),
    resolve: (m) => lazy().resolve(m),
    log: (m) => lazy().log(m),
  };
  registerClassifyCommand(program, proxy);
  registerBatchCommand(program, proxy);
  registerFeaturesCommand(program, proxy);
  registerExplainCommand(program, proxy);
  registerInspectCommand(program, proxy);
  registerModelsCommand(program, proxy);
  registerDoctorCommand(program, proxy);
  registerQuantizeCommand(program, proxy);
  registerWorkerCommand(program, proxy);
  registerBlocksCommand(program, proxy);
  registerLesionCommand(program, proxy);
  registerReportCommand(program, proxy);
  // Usage errors in subcommands too must exit 2, not commander's default 1.
  for (const command of program.commands) {
    command.exitOverride();
    for (const sub of command.commands) sub.exitOverride();
  }
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.Ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version are "errors" to commander; they are successes to the user.
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return ExitCode.Ok;
      return ExitCode.Usage;
    }
    if (error instanceof UsageError) {
      process.stderr.write(`error: ${error.message}\n`);
      return ExitCode.Usage;
    }
    if (error instanceof EngineError) {
      process.stderr.write(`error ${error.code}: ${withHint(error.message, error.hint)}\n`);
      return ExitCode.SomeFailed;
    }
    process.stderr.write(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return ExitCode.SomeFailed;
  }
}
