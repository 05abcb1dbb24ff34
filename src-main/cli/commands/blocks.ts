// `reslens blocks IMAGE`: the residual blocks of the model on one image: the norms of each block's
// input, residual branch F(x), shortcut and output, and ‖F(x)‖ / ‖shortcut‖, optionally with
// blocks removed or scaled.
import type { Command } from 'commander';
import { type BlockNorms, load } from '../../engine/index.js';
import { gatesFrom, parseBlockList, parseScaleList, reportBlockUsageError } from '../block-options.js';
import type { CliContext } from '../context.js';
import { addModelOptions, type ModelFlags } from '../options.js';

interface BlocksFlags extends ModelFlags {
  json?: boolean;
  dropBlocks?: string[];
  scaleBlocks?: Record<string, number>;
}

/** The `--json` object: exactly these keys, blocks in forward order. */
export function blocksJson(model: string, norms: readonly BlockNorms[]): { model: string; blocks: BlockNorms[] } {
  return {
    model,
    blocks: norms.map((b) => ({
      id: b.id,
      stage: b.stage,
      index: b.index,
      downsample: b.downsample,
      inputNorm: b.inputNorm,
      residualNorm: b.residualNorm,
      shortcutNorm: b.shortcutNorm,
      outputNorm: b.outputNorm,
    })),
  };
}

function table(image: string, model: string, norms: readonly BlockNorms[], strides: Map<string, number>, gates: Record<string, number>): string {
  const num = (n: number): string => (n >= 1000 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(3)).padStart(9);
  const lines = [`${image}  (${model})`, `   block         ‖input‖  ‖F(x)‖   ‖shortcut‖  ‖output‖   ‖F(x)‖/‖shortcut‖`];
  let stage = '';
  for (const b of norms) {
    if (b.stage !== stage && stage !== '') lines.push('');
    stage = b.stage;
    const marks = `${b.downsample ? 'P' : ' '}${(strides.get(b.id) ?? 1) > 1 ? '↓' : ' '}`;
    const gate = gates[b.id] === undefined ? '' : gates[b.id] === 0 ? '  (removed)' : `  (×${gates[b.id]})`;
    lines.push(
      `   ${b.id.padEnd(10)} ${marks}${num(b.inputNorm)}${num(b.residualNorm)}${num(b.shortcutNorm)}  ${num(b.outputNorm)}   ${(b.residualNorm / b.shortcutNorm).toFixed(3).padStart(8)}${gate}`,
    );
  }
  lines.push('', '   P: projection shortcut (torchvision downsample)   ↓: halves the resolution');
  return `${lines.join('\n')}\n`;
}

export function registerBlocksCommand(program: Command, context: CliContext): void {
  const command = program
    .command('blocks')
    .description('show each residual block on one image: norms of its input, residual branch F(x), shortcut and output')
    .argument('<image>', 'image file');
  addModelOptions(command);
  command
    .option('--json', 'print one JSON object {model, blocks: [{id, stage, index, downsample, inputNorm, residualNorm, shortcutNorm, outputNorm}]}')
    .option('--drop-blocks <ids>', "remove these blocks' residual branches first (comma-separated, e.g. layer3.1,layer4.0)", parseBlockList)
    .option('--scale-blocks <id=s,...>', "scale these blocks' residual branches (0..4, e.g. layer2.0=0.5)", parseScaleList)
    .action(async (image: string, flags: BlocksFlags, command: Command) => {
      // The engine loads with the command, not with the program (see main.ts).
      const [{ blockLens, releaseBlockLens }, { preprocessFile }] = await Promise.all([load.blocksLens(), load.preprocess()]);
      let gates;
      try {
        gates = gatesFrom(flags.dropBlocks, flags.scaleBlocks);
      } catch (error) {
        command.error(`error: ${(error as Error).message}`, { exitCode: 2, code: 'reslens.usage' });
      }
      const classifier = await context.loadClassifier({ model: flags.model, ep: flags.ep, labelsFile: flags.labels });
      try {
        const lens = await blockLens(classifier);
        const { tensor } = await preprocessFile(image, classifier.preprocessing);
        const { norms } = await lens.run(tensor, 1, { norms: true, gates });
        const ours = norms?.[0] ?? [];
        if (flags.json) process.stdout.write(`${JSON.stringify(blocksJson(classifier.name, ours))}\n`);
        else process.stdout.write(table(image, classifier.name, ours, new Map(lens.blocks.map((b) => [b.id, b.stride])), gates ?? {}));
      } catch (error) {
        if (!reportBlockUsageError(error)) throw error;
      } finally {
        await releaseBlockLens(classifier);
        await classifier.dispose();
      }
    });
}
