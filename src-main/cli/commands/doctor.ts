// `reslens doctor`: execution providers (what loads, what fails and why, what auto chooses), the
// CPU and GPUs, and library versions. `--json` prints the same report as one JSON object.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { load, findPackageFile } from '../../engine/index.js';
import type { CliContext } from '../context.js';
import { EP_CHOICES, ExitCode, parseEp, parsePositiveInt } from '../options.js';

interface DoctorFlags {
  json?: boolean;
  ep: ReturnType<typeof parseEp>;
  model?: string;
  threads?: number;
}

function packageVersion(): string | undefined {
  try {
    // Found by walking up: the same from the sources and from the bundle in dist/node/cli.
    const file = findPackageFile('package.json');
    return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

export function registerDoctorCommand(program: Command, context: CliContext): void {
  program
    .command('doctor')
    .description('show execution providers (which load, which fail and why, what auto picks), CPU/GPU and versions')
    .option('--json', 'print one JSON object')
    .option('--ep <provider>', `provider to diagnose as the selected backend: ${EP_CHOICES}`, parseEp, 'auto')
    .option('-m, --model <name|path>', 'probe with this model instead of the built-in probe network')
    .option('--threads <n>', 'CPU inference threads (default: all cores)', parsePositiveInt)
    .action(async (flags: DoctorFlags) => {
      const { formatDoctorReport, runDoctor } = await load.doctor(); // the engine loads with the command
      const model = flags.model ? await context.modelPath(flags.model) : undefined;
      if (!flags.json) context.log('probing execution providers…');
      const report = await runDoctor({ ep: flags.ep, model, modelName: flags.model, threads: flags.threads, appVersion: packageVersion() });
      process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatDoctorReport(report));
      // Scriptable: `reslens doctor --ep cuda` fails when CUDA cannot be used.
      process.exitCode = report.selected.error ? ExitCode.SomeFailed : ExitCode.Ok;
    });
}
