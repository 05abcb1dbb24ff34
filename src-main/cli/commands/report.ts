// `reslens report IMAGE --out report.html`: one photo's top-5, every stage and its class activation
// maps as one self-contained HTML file (engine/report). The engine loads with the command only.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { COLORMAPS, type ColormapName, load, replaceFile } from '../../engine/index.js';
import type { CliContext } from '../context.js';
import { addModelOptions, type ModelFlags, parseColormap, parsePositiveInt, UsageError } from '../options.js';

interface ReportFlags extends ModelFlags {
  out: string;
  colormap: ColormapName;
  size: number;
  json?: boolean;
}

/** The output must be a new or regular file, and not the photo itself (a careless --out). */
async function checkOut(out: string, image: string): Promise<void> {
  if (path.resolve(out) === path.resolve(image)) throw new UsageError('--out names the input photo: choose another file');
  const existing = await stat(out).catch(() => undefined);
  if (existing && !existing.isFile()) throw new UsageError(`--out ${out} exists and is not a regular file`);
}

export function registerReportCommand(program: Command, context: CliContext): void {
  const command = program
    .command('report')
    .description("write one photo's top-5, every stage's heatmap and the class activation maps as one self-contained HTML file")
    .argument('<image>', 'image file')
    .requiredOption('-o, --out <file>', 'HTML file to write (replaced if it exists)');
  addModelOptions(command);
  command
    .option('--colormap <name>', `heatmap colours: ${COLORMAPS.join(', ')}`, parseColormap, 'inferno')
    .option('--size <px>', 'side of each image in pixels', parsePositiveInt, 320)
    .option('--json', 'print a JSON summary on stdout (logs go to stderr)')
    .action(async (image: string, flags: ReportFlags) => {
      await checkOut(flags.out, image);
      const { makeReport } = await load.report();
      const resolved = await context.resolve(flags.model);
      const classifier = await context.loadClassifier({ model: flags.model, ep: flags.ep, labelsFile: flags.labels });
      try {
        const report = await makeReport(classifier, image, {
          colormap: flags.colormap,
          size: Math.min(flags.size, 1024),
          title: resolved.catalogEntry?.title,
          pretrained: resolved.pretrained,
        });
        // Written beside the target and renamed: a reader never sees half a file, a planted link is replaced.
        await replaceFile(flags.out, report.html);
        const summary = {
          out: flags.out,
          bytes: Buffer.byteLength(report.html),
          model: classifier.name,
          top: report.top,
          stages: report.stages,
          cams: report.cams,
        };
        if (flags.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
        else
          context.log(
            `wrote ${flags.out} (${Math.round(summary.bytes / 1024)} KB): top-1 ${report.top[0]?.label ?? '—'}, ${report.stages.length} stages, ${report.cams} class activation maps`,
          );
      } finally {
        await classifier.dispose();
      }
    });
}
