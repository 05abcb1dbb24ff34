// `reslens features IMAGE --out DIR`: per-stage heatmap overlays, channel grids, class activation
// maps and the raw stage tensors of one image, with a JSON summary.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { type ColormapName, COLORMAPS, encodeNpy, EngineError, ErrorCode, load } from '../../engine/index.js';
import type { CliContext } from '../context.js';
import { parseEp, parsePositiveInt, parseColormap } from '../options.js';
import { type PrecisionFlag, parsePrecision } from '../options.js';

interface FeaturesFlags {
  precision: PrecisionFlag;
  model: string;
  out: string;
  top: number;
  channels: number;
  colormap: ColormapName;
  opacity: number;
  mode: 'mean' | 'max';
  size: number;
  ep: ReturnType<typeof parseEp>;
  labels?: string;
}

function parseOpacity(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('expected a number from 0 to 1');
  return n;
}


function parseMode(value: string): 'mean' | 'max' {
  if (value !== 'mean' && value !== 'max') throw new InvalidArgumentError('expected mean or max');
  return value;
}

/** A file-name-safe version of a class label ("Egyptian cat" → "egyptian-cat"). */
const slug = (label: string): string => label.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'class';

export function registerFeaturesCommand(program: Command, context: CliContext): void {
  program
    .command('features')
    .description('export what each ResNet stage sees in an image: heatmap overlays, top channels, class activation maps and raw stage tensors')
    .argument('<image>', 'image file')
    .requiredOption('-o, --out <dir>', 'folder to write into (created if missing)')
    .option('-m, --model <name|path>', 'catalog model name or path to an .onnx file', 'resnet50')
    .option('-k, --top <k>', 'classes to draw class activation maps for', parsePositiveInt, 5)
    .option('--channels <n>', 'most active channels shown per stage', parsePositiveInt, 8)
    .option('--colormap <name>', `heatmap colours: ${COLORMAPS.join(', ')}`, parseColormap, 'inferno')
    .option('--opacity <0..1>', 'heatmap opacity over the photo', parseOpacity, 0.55)
    .option('--mode <mean|max>', 'stage heatmap: mean or max over channels', parseMode, 'mean')
    .option('--size <px>', 'side of the overlay images in pixels', parsePositiveInt, 448)
    .option('--ep <provider>', 'execution provider: auto|cpu|cuda|webgpu|dml|coreml', parseEp, 'auto')
    .option('--labels <file>', 'class names for a custom model, one per line')
    .option('--precision <fp32|int8>', 'int8: the quantised copy made by `reslens quantize` (faster on the CPU, results marked "precision":"int8")', parsePrecision, 'fp32' as PrecisionFlag)
    .action(async (image: string, flags: FeaturesFlags) => {
      // The engine loads with the command, not with the program (see main.ts).
      const [{ gridPng, overlayPng }, { extractFeatures, photoCrop }] = await Promise.all([load.colormap(), load.featuresExtract()]);
      // Feature maps need the stage taps the int8 graph does not have: they come from fp32, said so.
      if (flags.precision === 'int8') context.log('note: feature maps and class activation maps come from the fp32 model (the int8 copy has no stage outputs)');
      const classifier = await context.loadClassifier({ model: flags.model, ep: flags.ep, labelsFile: flags.labels });
      try {
        if (!classifier.stageMap) throw new EngineError(ErrorCode.UNSUPPORTED_MODEL, classifier.stagesError ?? 'feature maps unavailable for this model');
        const { result, decoded } = await extractFeatures(classifier, image, { topChannels: flags.channels, topClasses: flags.top, heatmapMode: flags.mode, keepTensors: true });
        await mkdir(flags.out, { recursive: true });
        const out = (name: string) => path.join(flags.out, name);
        const photo = await photoCrop(decoded, result.photoRegion, flags.size);
        const files: string[] = [];
        const save = async (name: string, data: Buffer) => {
          await writeFile(out(name), data);
          files.push(name);
        };
        await save('input.png', await (await import('sharp')).default(photo.data, { raw: { width: photo.width, height: photo.height, channels: 3 } }).png().toBuffer());

        const stages = [];
        for (const stage of result.stages) {
          const tensor = result.tensors?.stages[stage.name];
          if (!tensor) throw new EngineError(ErrorCode.INFERENCE_FAILED, `stage ${stage.name} missing from the run`);
          await save(`${stage.name}.npy`, encodeNpy(tensor, stage.shape));
          await save(`${stage.name}.png`, await overlayPng(photo, stage.heatmap, { colormap: flags.colormap, opacity: flags.opacity }));
          await save(`${stage.name}-channels.png`, await gridPng(stage.topChannels.map((c) => c.map), { columns: 4, cell: 112, colormap: 'viridis' }));
          stages.push({
            name: stage.name,
            paperName: stage.paperName,
            tensor: stage.tensor,
            shape: stage.shape,
            blocks: stage.blocks,
            stats: stage.stats,
            topChannels: stage.topChannels.map((c) => ({ channel: c.channel, meanActivation: c.meanActivation })),
            files: { tensor: `${stage.name}.npy`, overlay: `${stage.name}.png`, channels: `${stage.name}-channels.png` },
          });
        }
        const cams = [];
        for (const [rank, cam] of result.cams.entries()) {
          const name = `cam-${rank + 1}-${slug(cam.label)}.png`;
          await save(name, await overlayPng(photo, cam.map, { colormap: 'jet', opacity: flags.opacity }));
          cams.push({ rank: rank + 1, index: cam.index, label: cam.label, prob: cam.prob, logit: cam.logit, bias: cam.bias, camMean: cam.rawMean, file: name });
        }
        const summary = {
          image: image,
          model: result.model,
          ep: result.ep,
          ms: result.ms,
          input: { ...result.facts, photoRegion: result.photoRegion },
          top: result.top,
          heatmap: { mode: flags.mode, colormap: flags.colormap, opacity: flags.opacity, size: photo.width },
          stages,
          cams,
          // Asked for int8: the maps are fp32 (the note on stderr says so too).
          ...(flags.precision === 'int8' ? { precision: 'fp32', precisionNote: 'int8 requested: feature maps come from the fp32 model (the int8 copy has no stage outputs)' } : {}),
          files: [...files, 'summary.json'],
        };
        await writeFile(out('summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
        context.log(`wrote ${files.length + 1} files to ${flags.out}`);
        process.stdout.write(`${JSON.stringify({ out: flags.out, stages: stages.map((s) => ({ name: s.name, shape: s.shape })), top: result.top.slice(0, 3) })}\n`);
      } finally {
        await classifier.dispose();
      }
    });
}
