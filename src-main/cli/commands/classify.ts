// `reslens classify FILES...`: top-k classes per image, as a table or JSON lines.
import type { Command } from 'commander';
import { load } from '../../engine/index.js';
import type { CliContext } from '../context.js';
import { gatesFrom, parseBlockList, parseScaleList, reportBlockUsageError } from '../block-options.js';
import { addBatchSizeOption, addModelOptions, addPrecisionOption, ExitCode, type ModelFlags, parsePositiveInt, type PrecisionFlag } from '../options.js';

interface ClassifyFlags extends ModelFlags {
  precision: PrecisionFlag;
  top: number;
  json?: boolean;
  batch: number | 'auto';
  hidden?: boolean;
  dropBlocks?: string[];
  scaleBlocks?: Record<string, number>;
}

export function registerClassifyCommand(program: Command, context: CliContext): void {
  const command = program
    .command('classify')
    .description('classify images (files or folders, walked recursively) and print the top classes of each')
    .argument('<inputs...>', 'image files and/or folders');
  addModelOptions(command);
  addBatchSizeOption(command);
  addPrecisionOption(command);
  command
    .option('-k, --top <k>', 'number of classes to show per image', parsePositiveInt, 5)
    .option('--json', 'print one JSON object per image on stdout (progress and logs go to stderr)')
    .option('--hidden', 'include hidden files and folders when walking folders')
    .option('--drop-blocks <ids>', "classify with these residual blocks' branches removed (comma-separated, e.g. layer3.1,layer4.0)", parseBlockList)
    .option('--scale-blocks <id=s,...>', 'classify with these residual branches scaled (0..4, e.g. layer2.0=0.5)', parseScaleList)
    .action(async (inputs: string[], flags: ClassifyFlags, command: Command) => {
      // Residual blocks removed or scaled: the inferences run on the block lens's gated graph.
      const lesioned = flags.dropBlocks !== undefined || flags.scaleBlocks !== undefined;
      let gates;
      try {
        gates = lesioned ? gatesFrom(flags.dropBlocks, flags.scaleBlocks) : undefined;
      } catch (error) {
        command.error(`error: ${(error as Error).message}`, { exitCode: ExitCode.Usage, code: 'reslens.usage' });
      }
      if (lesioned && flags.precision === 'int8')
        command.error('error: --drop-blocks and --scale-blocks run on the fp32 model: leave out --precision int8', {
          exitCode: ExitCode.Usage,
          code: 'reslens.usage',
        });
      // The engine loads with the command, not with the program (see main.ts).
      const [{ walkInputs }, { classifyFiles, isFailure }, { formatResult, formatSummary }, { blockLens, normaliseGates, releaseBlockLens }] =
        await Promise.all([load.walk(), load.classifyFiles(), import('../output.js'), load.blocksLens()]);
      // The model's preprocessing is known before its session starts: the first photos are decoded
      // while it loads (see classifyFiles' `preprocessing`).
      const { preprocessing } = await context.resolve(flags.model);
      const loading = context.loadClassifier({ model: flags.model, ep: flags.ep, labelsFile: flags.labels, precision: flags.precision });
      let done = 0;
      let failed = 0;
      const start = performance.now();
      try {
        let infer;
        if (gates) {
          const classifier = await loading;
          try {
            const lens = await blockLens(classifier);
            const checked = gates;
            normaliseGates(lens.blocks, checked); // unknown ids and bad scales fail here, before any image
            infer = (batch: Float32Array, count: number) => lens.run(batch, count, { gates: checked });
          } catch (error) {
            if (reportBlockUsageError(error)) return;
            throw error;
          }
        }
        const items = walkInputs(inputs, { includeHidden: flags.hidden });
        for await (const result of classifyFiles(loading, items, {
          top: flags.top,
          batchSize: flags.batch === 'auto' ? undefined : flags.batch,
          infer,
          preprocessing,
        })) {
          if (isFailure(result)) failed++;
          else done++;
          process.stdout.write(flags.json ? `${JSON.stringify(result)}\n` : formatResult(result));
        }
      } finally {
        // A load that failed has its error thrown from the loop above; nothing to release then.
        const classifier = await loading.catch(() => undefined);
        if (classifier) {
          await releaseBlockLens(classifier);
          await classifier.dispose();
        }
      }
      if (!flags.json) context.log(formatSummary(done, failed, (performance.now() - start) / 1000));
      if (done + failed === 0) context.log('no images found in the given inputs');
      process.exitCode = failed > 0 ? ExitCode.SomeFailed : ExitCode.Ok;
    });
}
