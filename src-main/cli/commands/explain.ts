// `reslens explain IMAGE --model M --out DIR [--class N|LABEL]... [--method ...] [--faithfulness] [--json]`:
// class-specific explanations at every stage and the input, from the backward pass built into the
// ONNX graph. The files and their summary.json are the engine's explanation export
// (engine/explain/export.ts, where the output contract is written down); this command translates
// its flags and prints the summary.
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { EngineError, ErrorCode, EXPLAIN_METHODS, type Explainer, type ExplainMethod, load, MAX_EXPLAIN_CLASSES } from '../../engine/index.js';
// Names only at start-up; the engine (onnxruntime, sharp) loads with the command (see main.ts).
import type { CliContext } from '../context.js';
import { addModelOptions, type ModelFlags, parsePositiveInt } from '../options.js';

interface ExplainFlags extends ModelFlags {
  out: string;
  class: string[];
  method: ExplainMethod[];
  faithfulness?: boolean;
  json?: boolean;
  steps: number;
  samples: number;
  size: number;
}

function collectMethods(value: string, previous: ExplainMethod[]): ExplainMethod[] {
  const names = value
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  for (const name of names)
    if (!(EXPLAIN_METHODS as readonly string[]).includes(name))
      throw new InvalidArgumentError(`unknown method ${name}; expected any of ${EXPLAIN_METHODS.join(', ')}`);
  return [...previous, ...(names as ExplainMethod[])];
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/**
 * A class index, or a label: exact (case-insensitive) first, then a label containing the text when
 * exactly one does. Ambiguous or unknown text is an error naming a few candidates.
 */
export function resolveClass(value: string, labels: readonly string[]): number {
  const text = value.trim();
  if (/^\d+$/.test(text)) {
    const index = Number(text);
    if (index >= labels.length) throw new EngineError(ErrorCode.INVALID_ARGUMENT, `class ${index} is outside 0..${labels.length - 1}`);
    return index;
  }
  const lower = text.toLowerCase();
  const exact = labels.findIndex((l) => l.toLowerCase() === lower);
  if (exact >= 0) return exact;
  const partial = labels.flatMap((l, i) => (l.toLowerCase().includes(lower) ? [i] : []));
  if (partial.length === 1) return partial[0];
  if (partial.length === 0) throw new EngineError(ErrorCode.INVALID_ARGUMENT, `no class is called "${text}"`);
  throw new EngineError(
    ErrorCode.INVALID_ARGUMENT,
    `"${text}" matches ${partial.length} classes (${partial
      .slice(0, 5)
      .map((i) => `${i} ${labels[i]}`)
      .join(', ')}${partial.length > 5 ? ', …' : ''}): give the index or the full label`,
  );
}

export function registerExplainCommand(program: Command, context: CliContext): void {
  const command = program
    .command('explain')
    .description(
      'explain a classification: Grad-CAM family maps at every stage, input attributions and their faithfulness, from gradients computed inside the ONNX graph',
    )
    .argument('<image>', 'image file')
    .requiredOption('-o, --out <dir>', 'folder to write into (created if missing)');
  addModelOptions(command);
  command
    .option('-c, --class <index|label>', `class to explain (repeat for several, up to ${MAX_EXPLAIN_CLASSES}; default: the top-1)`, collect, [])
    .option('--method <names>', `comma-separated methods: ${EXPLAIN_METHODS.join(', ')} (default: gradcam,saliency,guided-backprop)`, collectMethods, [])
    .option('--faithfulness', 'measure deletion and insertion curves for every method (re-classifies 34 perturbed copies per map)')
    .option('--json', 'print the summary as one JSON object on stdout')
    .option('--steps <n>', 'integrated gradients: steps from the baseline', parsePositiveInt, 32)
    .option('--samples <n>', 'SmoothGrad: noisy samples', parsePositiveInt, 16)
    .option('--size <px>', 'side of the overlay images in pixels', parsePositiveInt, 448)
    .action(async (image: string, flags: ExplainFlags) => {
      if (flags.class.length > MAX_EXPLAIN_CLASSES)
        throw new EngineError(ErrorCode.INVALID_ARGUMENT, `at most ${MAX_EXPLAIN_CLASSES} classes per run (got ${flags.class.length})`);
      const [{ exportExplanation }, { Explainer }] = await Promise.all([load.explainExport(), load.explainer()]);
      const classifier = await context.loadClassifier({ model: flags.model, ep: flags.ep, labelsFile: flags.labels });
      let explainer: Explainer | undefined;
      try {
        const classes = flags.class.map((c) => resolveClass(c, classifier.labels));
        explainer = await Explainer.load(classifier, (event) => context.log(`warning: ${event.message}`));
        const summary = await exportExplanation(explainer, classifier, image, flags.out, {
          classes,
          methods: flags.method,
          faithfulness: flags.faithfulness,
          integratedSteps: flags.steps,
          smoothGradSamples: flags.samples,
          size: flags.size,
          perClassFolders: flags.class.length > 1,
        });
        if (flags.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
        else {
          for (const c of summary.classes) {
            const auc = c.faithfulness
              ? ` · deletion/insertion AUC ${Object.entries(c.faithfulness)
                  .map(([m, f]) => `${m} ${f.deletionAuc.toFixed(3)}/${f.insertionAuc.toFixed(3)}`)
                  .join(', ')}`
              : '';
            process.stdout.write(`${c.index} ${c.label} (score ${c.score.toFixed(3)}) → ${c.folder}${auc}\n`);
          }
          context.log(
            `wrote ${summary.classes.reduce((n, c) => n + c.files.length, 0)} files to ${flags.out} in ${(summary.timings.totalMs / 1000).toFixed(1)} s`,
          );
        }
      } finally {
        await explainer?.dispose();
        await classifier.dispose();
      }
    });
}
