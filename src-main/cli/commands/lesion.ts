// `reslens lesion DIR --out study.csv`: a lesion study over a folder. For every residual block (or
// those named with --blocks) the folder is classified with that block's branch removed; the table
// says, per block, how often the top-1 stays the intact network's and how much probability the
// intact top-1 loses. Journaled like a batch: --resume continues a study that was stopped or killed.
import path from 'node:path';
import type { Command } from 'commander';
import {
  type BatchEvent,
  EngineError,
  ErrorCode,
  journalPathFor,
  journalStatus,
  type LesionStudySummary,
  load,
  unfinishedRunError,
} from '../../engine/index.js';
import { parseBlockList, reportBlockUsageError } from '../block-options.js';
import type { CliContext } from '../context.js';
import { addBatchSizeOption, addModelOptions, ExitCode, type ModelFlags, parsePositiveInt } from '../options.js';
import { createProgress, formatDuration, runProgressState } from '../progress.js';
import { endLines } from '../hints.js';
import { EXIT_INTERRUPTED, waitInterruptibly } from '../interrupt.js';

interface LesionFlags extends ModelFlags {
  out?: string;
  blocks?: string[];
  batch: number | 'auto';
  exact?: boolean;
  resume?: boolean;
  restart?: boolean;
  hidden?: boolean;
  jobs?: number;
}

function report(summary: LesionStudySummary, out: string, seconds: number): string[] {
  const lines: string[] = [];
  const table = summary.table;
  if (table) {
    lines.push(`block        agreement  mean drop of the top-1 probability   (${table.images} images${table.failed > 0 ? `, ${table.failed} failed` : ''})`);
    for (const row of table.rows) {
      const mark = `${row.downsample ? 'P' : ' '}${row.stride > 1 ? '↓' : ' '}`;
      lines.push(
        `${row.block.padEnd(10)} ${mark} ${(row.agreement * 100).toFixed(1).padStart(6)}%   ${row.meanProbDrop >= 0 ? ' ' : ''}${row.meanProbDrop.toFixed(4)}`,
      );
    }
    lines.push('P: projection shortcut   ↓: halves the resolution');
  }
  const thisRun = summary.progress.done - summary.progress.resumed;
  lines.push(
    `${thisRun} images this run in ${formatDuration(seconds)}${summary.progress.resumed > 0 ? ` (${summary.progress.resumed} done in an earlier run)` : ''} · study: ${out} · journal: ${summary.journal}`,
  );
  lines.push(...endLines(summary));
  return lines;
}

export function registerLesionCommand(program: Command, context: CliContext): void {
  const command = program
    .command('lesion')
    .description('lesion study: classify a folder once per residual block with that block removed, and tabulate how much each block matters')
    .argument('<inputs...>', 'folders and/or image files')
    .option('-o, --out <file>', 'study table: .csv or .json (the journal is written beside it as <file>.reslens-journal.jsonl)');
  addModelOptions(command);
  addBatchSizeOption(command);
  command
    .option('--blocks <ids>', 'study only these blocks (comma-separated, e.g. layer2.0,layer3.1); default: every block', parseBlockList)
    .option('--exact', 'decode every image in full (bit-exact with torchvision)')
    .option('--resume', 'continue the study recorded in the journal')
    .option('--restart', 'start over even if the journal holds an unfinished study (the old journal is kept as .old)')
    .option('--hidden', 'include hidden files and folders')
    .option('-j, --jobs <n>', 'preprocessing worker threads', parsePositiveInt)
    .action(async (inputs: string[], flags: LesionFlags, command: Command) => {
      // The engine loads with the command, not with the program (see main.ts).
      const [{ blockLens, releaseBlockLens }, { startLesionStudy, studyFormatOf }] = await Promise.all([load.blocksLens(), load.blocksStudy()]);
      const usage = (message: string): never => command.error(`error: ${message}`, { exitCode: ExitCode.Usage, code: 'reslens.usage' });
      if (!flags.out) usage('--out <file> is required (study.csv or study.json)');
      const out = path.resolve(flags.out as string);
      if (!studyFormatOf(out)) usage(`cannot tell the study format from ${flags.out}: use .csv or .json`);
      if (flags.resume && flags.restart) usage('--resume and --restart exclude each other');
      try {
        const status = await journalStatus(journalPathFor(out));
        if (status && !status.finished && !flags.resume && !flags.restart) throw unfinishedRunError(journalPathFor(out), status.done);
      } catch (error) {
        if (reportBlockUsageError(error)) return;
        throw error;
      }

      const classifier = await context.loadClassifier({ model: flags.model, ep: flags.ep, labelsFile: flags.labels });
      const progress = createProgress('lesion study');
      try {
        let job;
        try {
          const lens = await blockLens(classifier);
          job = await startLesionStudy({
            lens,
            inputs: inputs.map((input) => path.resolve(input)),
            out,
            blocks: flags.blocks,
            batchSize: flags.batch === 'auto' ? undefined : flags.batch,
            decodeConcurrency: flags.jobs,
            mode: flags.exact ? 'exact' : 'fast',
            resume: flags.resume,
            restart: flags.restart,
            walk: { includeHidden: flags.hidden },
          });
          context.log(`studying ${job.blocks.length} blocks: ${job.blocks.length + 1} inferences per image`);
        } catch (error) {
          if (reportBlockUsageError(error)) return;
          throw error;
        }
        const running = job;
        running.on((event: BatchEvent) => {
          if (event.type === 'progress') {
            const p = event.progress;
            progress.update(runProgressState(p));
          } else if (event.type === 'notice') context.log(`note: ${event.message}`);
        });
        const { summary, seconds } = await waitInterruptibly<LesionStudySummary>(running, progress, context.log);
        for (const line of report(summary, out, seconds)) context.log(line);
        if (summary.state === 'cancelled') process.exitCode = EXIT_INTERRUPTED;
        else if (summary.state === 'failed') process.exitCode = ExitCode.SomeFailed;
        else if ((summary.table?.images ?? 0) === 0) {
          context.log('no images could be classified in the given inputs');
          process.exitCode = ExitCode.SomeFailed;
        } else process.exitCode = summary.failed > 0 ? ExitCode.SomeFailed : ExitCode.Ok;
      } catch (error) {
        if (error instanceof EngineError && error.code === ErrorCode.INVALID_ARGUMENT && reportBlockUsageError(error)) return;
        throw error;
      } finally {
        await releaseBlockLens(classifier);
        await classifier.dispose();
      }
    });
}
