// `reslens features IMAGE --out DIR [--json]`: per-stage heatmap overlays, channel grids, class
// activation maps and the raw stage tensors of one image, with a JSON summary (on stdout with --json).
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { type ColormapName, COLORMAPS, HEATMAP_MODES, type HeatmapMode, load } from '../../engine/index.js';
import type { CliContext } from '../context.js';
import { addModelOptions, addPrecisionOption, type ModelFlags, parseColormap, parsePositiveInt, type PrecisionFlag } from '../options.js';

interface FeaturesFlags extends ModelFlags {
  precision: PrecisionFlag;
  out: string;
  top: number;
  channels: number;
  colormap: ColormapName;
  opacity: number;
  mode: HeatmapMode;
  size: number;
  json?: boolean;
}

function parseOpacity(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('expected a number from 0 to 1');
  return n;
}

function parseMode(value: string): HeatmapMode {
  if (!(HEATMAP_MODES as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected ${HEATMAP_MODES.join(' or ')}`);
  return value as HeatmapMode;
}

export function registerFeaturesCommand(program: Command, context: CliContext): void {
  const command = program
    .command('features')
    .description('export what each ResNet stage sees in an image: heatmap overlays, top channels, class activation maps and raw stage tensors')
    .argument('<image>', 'image file')
    .requiredOption('-o, --out <dir>', 'folder to write into (created if missing)');
  addModelOptions(command);
  addPrecisionOption(command);
  command
    .option('-k, --top <k>', 'classes to draw class activation maps for', parsePositiveInt, 5)
    .option('--channels <n>', 'most active channels shown per stage', parsePositiveInt, 8)
    .option('--colormap <name>', `heatmap colours: ${COLORMAPS.join(', ')}`, parseColormap, 'inferno')
    .option('--opacity <0..1>', 'heatmap opacity over the photo', parseOpacity, 0.55)
    .option('--mode <mean|max>', 'stage heatmap: mean or max over channels', parseMode, 'mean')
    .option('--size <px>', 'side of the overlay images in pixels', parsePositiveInt, 448)
    .option('--json', 'print the whole summary (what summary.json holds: stage statistics, top channels, classes, CAMs, files) as one JSON object on stdout')
    .action(async (image: string, flags: FeaturesFlags) => {
      // The engine loads with the command, not with the program (see main.ts).
      const { exportFeatures } = await load.featuresExport();
      // Feature maps need the stage taps the int8 graph does not have: they come from fp32, said so.
      if (flags.precision === 'int8') context.log('note: feature maps and class activation maps come from the fp32 model (the int8 copy has no stage outputs)');
      const classifier = await context.loadClassifier({ model: flags.model, ep: flags.ep, labelsFile: flags.labels });
      try {
        const summary = await exportFeatures(classifier, image, flags.out, {
          topClasses: flags.top,
          channels: flags.channels,
          colormap: flags.colormap,
          opacity: flags.opacity,
          mode: flags.mode,
          size: flags.size,
          requestedPrecision: flags.precision,
        });
        context.log(`wrote ${summary.files.length} files to ${flags.out}`);
        // Without --json, a one-line digest for scripts that only need the stage shapes and the top classes.
        const printed = flags.json
          ? summary
          : { out: flags.out, stages: summary.stages.map((s) => ({ name: s.name, shape: s.shape })), top: summary.top.slice(0, 3) };
        process.stdout.write(`${JSON.stringify(printed)}\n`);
      } finally {
        await classifier.dispose();
      }
    });
}
