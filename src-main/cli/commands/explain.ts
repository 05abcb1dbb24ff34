// `reslens explain IMAGE --model M --out DIR [--class N|LABEL]... [--method ...] [--faithfulness] [--json]`:
// class-specific explanations at every stage and the input, from the backward pass built into the
// ONNX graph. Output contract (tests depend on it), per class (DIR itself for one class, DIR/<index>/
// for each of several):
//   grad-<stage>.npy     float32 C×H×W   ∂ score_c / ∂ stage output
//   gradcam-<stage>.npy  float32 H×W     raw Grad-CAM at the stage's resolution
//   input-grad.npy, guided-input-grad.npy   float32 3×H×W
//   <method>-<stage>.png (stage methods), <method>.png (input methods)   overlays on the photo
//   summary.json         class, score, methods, files, timings, faithfulness AUCs when asked
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import {
  type Classifier,
  EngineError,
  ErrorCode,
  EXPLAIN_METHODS,
  type Explainer,
  type explainFile,
  type ExplainMethod,
  load,
  MAX_EXPLAIN_CLASSES,
  type RawMap,
} from '../../engine/index.js';
// Names only at start-up; the engine (onnxruntime, sharp) loads with the command (see main.ts).
import type { CliContext } from '../context.js';
import { parseEp, parsePositiveInt } from '../options.js';

interface ExplainFlags {
  model: string;
  out: string;
  class: string[];
  method: ExplainMethod[];
  faithfulness?: boolean;
  json?: boolean;
  steps: number;
  samples: number;
  size: number;
  ep: ReturnType<typeof parseEp>;
  labels?: string;
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

/**
 * Writes through a new temporary file renamed into place: an existing file (or a symbolic link
 * another user planted) at the name is replaced, never written through.
 */
async function writeSafely(file: string, data: Uint8Array | string): Promise<void> {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', 0o644);
  try {
    await handle.writeFile(data);
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

export function registerExplainCommand(program: Command, context: CliContext): void {
  program
    .command('explain')
    .description(
      'explain a classification: Grad-CAM family maps at every stage, input attributions and their faithfulness, from gradients computed inside the ONNX graph',
    )
    .argument('<image>', 'image file')
    .requiredOption('-o, --out <dir>', 'folder to write into (created if missing)')
    .option('-m, --model <name|path>', 'catalog model name or path to an .onnx file', 'resnet50')
    .option('-c, --class <index|label>', `class to explain (repeat for several, up to ${MAX_EXPLAIN_CLASSES}; default: the top-1)`, collect, [])
    .option('--method <names>', `comma-separated methods: ${EXPLAIN_METHODS.join(', ')} (default: gradcam,saliency,guided-backprop)`, collectMethods, [])
    .option('--faithfulness', 'measure deletion and insertion curves for every method (re-classifies 34 perturbed copies per map)')
    .option('--json', 'print the summary as one JSON object on stdout')
    .option('--steps <n>', 'integrated gradients: steps from the baseline', parsePositiveInt, 32)
    .option('--samples <n>', 'SmoothGrad: noisy samples', parsePositiveInt, 16)
    .option('--size <px>', 'side of the overlay images in pixels', parsePositiveInt, 448)
    .option('--ep <provider>', 'execution provider: auto|cpu|cuda|webgpu|dml|coreml', parseEp, 'auto')
    .option('--labels <file>', 'class names for a custom model, one per line')
    .action(async (image: string, flags: ExplainFlags) => {
      if (flags.class.length > MAX_EXPLAIN_CLASSES)
        throw new EngineError(ErrorCode.INVALID_ARGUMENT, `at most ${MAX_EXPLAIN_CLASSES} classes per run (got ${flags.class.length})`);
      const [{ explainFile }, { Explainer }] = await Promise.all([load.explain(), load.explainer()]);
      const classifier = await context.loadClassifier({ model: flags.model, ep: flags.ep, labelsFile: flags.labels });
      let explainer: Explainer | undefined;
      try {
        const classes = flags.class.map((c) => resolveClass(c, classifier.labels));
        explainer = await Explainer.load(classifier, (event) => context.log(`warning: ${event.message}`));
        const explained = await explainFile(explainer, classifier, image, {
          classes,
          methods: flags.method,
          faithfulness: flags.faithfulness,
          integratedSteps: flags.steps,
          smoothGradSamples: flags.samples,
        });
        const summary = await writeExplanation(classifier, explained, flags, image, flags.class.length > 1);
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

type Explained = Awaited<ReturnType<typeof explainFile>>;

async function writeExplanation(classifier: Classifier, explained: Explained, flags: ExplainFlags, image: string, perClassFolders: boolean) {
  const [{ default: sharp }, { isStageMethod }, { overlayPng }, { photoCrop }, { encodeNpy }, { normalise }] = await Promise.all([
    import('sharp'),
    load.explain(),
    load.colormap(),
    load.featuresExtract(),
    load.npy(),
    load.featuresReduce(),
  ]);
  const { result } = explained;
  const photo = await photoCrop(explained.decoded, explained.photoRegion, flags.size);
  const overlay = (map: RawMap): Promise<Buffer> => overlayPng(photo, normalise(map.data, map.width, map.height), { colormap: 'jet', opacity: 0.5 });
  await mkdir(flags.out, { recursive: true });
  const classes = [];
  for (const e of result.classes) {
    const folder = perClassFolders ? path.join(flags.out, String(e.index)) : flags.out;
    await mkdir(folder, { recursive: true });
    const files: string[] = [];
    const save = async (name: string, data: Uint8Array | string): Promise<void> => {
      await writeSafely(path.join(folder, name), data);
      files.push(name);
    };
    await save(
      'input.png',
      await sharp(photo.data, { raw: { width: photo.width, height: photo.height, channels: 3 } })
        .png()
        .toBuffer(),
    );
    for (const stage of result.stages) {
      await save(`grad-${stage.name}.npy`, encodeNpy(e.stageGradients[stage.name], stage.shape));
      const gradcam = e.stageMaps[stage.name].gradcam as RawMap;
      await save(`gradcam-${stage.name}.npy`, encodeNpy(gradcam.data, [gradcam.height, gradcam.width]));
      for (const method of result.methods.filter(isStageMethod)) {
        const map = e.stageMaps[stage.name][method];
        if (map) await save(`${method}-${stage.name}.png`, await overlay(map));
      }
    }
    const size = classifier.preprocessing.crop;
    await save('input-grad.npy', encodeNpy(e.inputGradient, [3, size, size]));
    await save('guided-input-grad.npy', encodeNpy(e.guidedInputGradient, [3, size, size]));
    for (const [method, attribution] of Object.entries(e.inputMaps)) {
      if (method === 'integrated-gradients' || method === 'smoothgrad' || method === 'guided-gradcam')
        await save(`${method}.npy`, encodeNpy(attribution.attribution, [3, size, size]));
      await save(`${method}.png`, await overlay(attribution.map));
    }
    const faithfulness = e.faithfulness
      ? Object.fromEntries(
          Object.entries(e.faithfulness).map(([m, f]) => [
            m,
            {
              deletionAuc: f.deletionAuc,
              insertionAuc: f.insertionAuc,
              fractions: f.fractions,
              deletion: f.deletion,
              insertion: f.insertion,
              map: isStageMethod(m as ExplainMethod) ? 'layer4' : 'input',
            },
          ]),
        )
      : undefined;
    const classSummary = {
      image,
      model: result.model,
      ep: result.ep,
      class: { index: e.index, label: e.label },
      index: e.index,
      label: e.label,
      score: e.score,
      prob: e.prob,
      methods: result.methods,
      parameters: result.parameters,
      stages: result.stages,
      files: [...files, 'summary.json'],
      timings: result.timings,
      ...(faithfulness ? { faithfulness } : {}),
    };
    await writeSafely(path.join(folder, 'summary.json'), `${JSON.stringify(classSummary, null, 2)}\n`);
    classes.push({ ...classSummary, folder });
  }
  if (perClassFolders) {
    await writeSafely(
      path.join(flags.out, 'summary.json'),
      `${JSON.stringify({ image, model: result.model, classes: classes.map((c) => ({ index: c.index, label: c.label, score: c.score, folder: String(c.index) })), timings: result.timings }, null, 2)}\n`,
    );
  }
  return { image, model: result.model, ep: result.ep, out: flags.out, methods: result.methods, timings: result.timings, classes };
}
