// The explanation export of one image, once for every host (as features/export.ts is for feature
// maps): per class, the stage gradients and raw Grad-CAMs as .npy, the overlays of every method as
// .png and a summary.json that lists them. The CLI (`reslens explain`) only translates its flags into
// these options and prints the summary. Output contract (tests depend on it), per class (the
// folder itself for one class, <folder>/<index>/ for each of several):
//   grad-<stage>.npy     float32 C×H×W   ∂ score_c / ∂ stage output
//   gradcam-<stage>.npy  float32 H×W     raw Grad-CAM at the stage's resolution
//   input-grad.npy, guided-input-grad.npy   float32 3×H×W
//   <method>-<stage>.png (stage methods), <method>.png (input methods)   overlays on the photo
//   summary.json         class, score, methods, files, timings, faithfulness AUCs when asked
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { replaceFile } from '../core/files.js';
import type { ExplainMethod } from '../core/vocabulary.js';
import type { Classifier } from '../infer/classifier.js';
import { overlayPng } from '../features/colormap.js';
import { photoCrop } from '../features/extract.js';
import { encodeNpy } from '../features/npy.js';
import { normalise } from '../features/reduce.js';
import { type ClassExplanation, type ExplainOptions, type ExplainResult, explainFile, isStageMethod } from './explain.js';
import type { Explainer } from './explainer.js';
import type { RawMap } from './methods/maps.js';

export interface ExplanationExportOptions extends ExplainOptions {
  /** Side of the overlay images in pixels. */
  size: number;
  /** One folder per class (<out>/<index>/) with a summary.json over them at the top; else the files go into `out` itself. */
  perClassFolders: boolean;
}

/** The faithfulness curves of one method, and which map they perturbed. */
interface FaithfulnessSummary {
  deletionAuc: number;
  insertionAuc: number;
  fractions: number[];
  deletion: number[];
  insertion: number[];
  map: 'layer4' | 'input';
}

/** One class's summary.json (its schema is part of the CLI's documented output). */
export interface ClassExportSummary {
  image: string;
  model: string;
  ep: string;
  class: { index: number; label: string };
  index: number;
  label: string;
  score: number;
  prob: number;
  methods: ExplainMethod[];
  parameters: ExplainResult['parameters'];
  stages: ExplainResult['stages'];
  /** Every file written into the class's folder, summary.json last. */
  files: string[];
  timings: ExplainResult['timings'];
  /** Per method measured (with --faithfulness). */
  faithfulness?: Record<string, FaithfulnessSummary>;
}

export interface ExplanationExportSummary {
  image: string;
  model: string;
  ep: string;
  out: string;
  methods: ExplainMethod[];
  timings: ExplainResult['timings'];
  /** Each class's summary and the folder its files are in. */
  classes: (ClassExportSummary & { folder: string })[];
}

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

/** Explains `image` and writes the files of every class into `out` (created if missing); returns the summary. */
export async function exportExplanation(
  explainer: Explainer,
  classifier: Classifier,
  image: string,
  out: string,
  options: ExplanationExportOptions,
): Promise<ExplanationExportSummary> {
  const explained = await explainFile(explainer, classifier, image, options);
  const { result } = explained;
  const photo = await photoCrop(explained.decoded, explained.photoRegion, options.size);
  const pictures: ClassPictures = {
    overlay: (map) => overlayPng(photo, normalise(map.data, map.width, map.height), { colormap: 'jet', opacity: 0.5 }),
    inputPng: await sharp(photo.data, { raw: { width: photo.width, height: photo.height, channels: 3 } })
      .png()
      .toBuffer(),
    size: classifier.preprocessing.crop,
  };
  await mkdir(out, { recursive: true });
  const classes: ExplanationExportSummary['classes'] = [];
  for (const e of result.classes) {
    const folder = options.perClassFolders ? path.join(out, String(e.index)) : out;
    await mkdir(folder, { recursive: true });
    const files = await writeClassFiles(folder, result, e, pictures);
    const summary = classSummary(image, result, e, files);
    await replaceFile(path.join(folder, 'summary.json'), json(summary));
    classes.push({ ...summary, folder });
  }
  if (options.perClassFolders) {
    const overview = classes.map((c) => ({ index: c.index, label: c.label, score: c.score, folder: String(c.index) }));
    await replaceFile(path.join(out, 'summary.json'), json({ image, model: result.model, classes: overview, timings: result.timings }));
  }
  return { image, model: result.model, ep: result.ep, out, methods: result.methods, timings: result.timings, classes };
}

/** What every class's pictures are drawn from: the photo as the network saw it, and the input's side. */
interface ClassPictures {
  overlay: (map: RawMap) => Promise<Buffer>;
  inputPng: Buffer;
  /** The network's input side (the crop), for the input gradients' shape. */
  size: number;
}

/** Writes one class's .npy arrays and overlays into `folder`; returns their names, in the order written. */
async function writeClassFiles(folder: string, result: ExplainResult, e: ClassExplanation, { overlay, inputPng, size }: ClassPictures): Promise<string[]> {
  const files: string[] = [];
  const save = async (name: string, data: Uint8Array | string): Promise<void> => {
    await replaceFile(path.join(folder, name), data);
    files.push(name);
  };
  await save('input.png', inputPng);
  for (const stage of result.stages) {
    await save(`grad-${stage.name}.npy`, encodeNpy(e.stageGradients[stage.name], stage.shape));
    const gradcam = e.stageMaps[stage.name].gradcam as RawMap;
    await save(`gradcam-${stage.name}.npy`, encodeNpy(gradcam.data, [gradcam.height, gradcam.width]));
    for (const method of result.methods.filter(isStageMethod)) {
      const map = e.stageMaps[stage.name][method];
      if (map) await save(`${method}-${stage.name}.png`, await overlay(map));
    }
  }
  await save('input-grad.npy', encodeNpy(e.inputGradient, [3, size, size]));
  await save('guided-input-grad.npy', encodeNpy(e.guidedInputGradient, [3, size, size]));
  for (const [method, attribution] of Object.entries(e.inputMaps)) {
    if (method === 'integrated-gradients' || method === 'smoothgrad' || method === 'guided-gradcam')
      await save(`${method}.npy`, encodeNpy(attribution.attribution, [3, size, size]));
    await save(`${method}.png`, await overlay(attribution.map));
  }
  return files;
}

/** One class's summary.json, listing `files` and summary.json itself. */
function classSummary(image: string, result: ExplainResult, e: ClassExplanation, files: string[]): ClassExportSummary {
  const faithfulness = e.faithfulness ? faithfulnessSummaries(e.faithfulness) : undefined;
  return {
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
}

function faithfulnessSummaries(curves: NonNullable<ClassExplanation['faithfulness']>): Record<string, FaithfulnessSummary> {
  return Object.fromEntries(
    Object.entries(curves).map(([m, f]): [string, FaithfulnessSummary] => [
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
  );
}
