// One image → class-specific explanations: the gradient session's run gives logits, stage
// activations and all gradients for every requested class at once (a second, guided run gives
// guided backprop); the method formulas turn them into maps; integrated gradients and SmoothGrad add
// their batched runs; faithfulness re-classifies perturbed copies. Hosts only present the result.
import { stat } from 'node:fs/promises';
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import { type FeatureResult, regionInOriginal } from '../features/extract.js';
import { type DecodedImage, decodeImage } from '../preprocess/decode.js';
import { type ImageFacts, readImageFile, tensorFromDecoded } from '../preprocess/preprocess.js';
import type { Classifier } from '../infer/classifier.js';
import type { StageMap } from '../model/stages.js';
import { type ClassScore, softmax } from '../infer/topk.js';
import { STAGE_NAMES, type StageName } from '../core/vocabulary.js';
import type { Explainer, GradientRun } from './explainer.js';
import type { GradientCache } from './gradient-cache.js';
import { type FaithfulnessCurves, faithfulness } from './faithfulness.js';
import { eigenCam } from './methods/eigen-cam.js';
import { gradCamPlusPlus } from './methods/grad-cam-plus-plus.js';
import { gradCam } from './methods/grad-cam.js';
import { guidedGradCam } from './methods/guided-grad-cam.js';
import { hiResCam } from './methods/hires-cam.js';
import { channelMaxAbs } from './methods/input-maps.js';
import { IG_DEFAULT_STEPS, integratedGradients } from './methods/integrated-gradients.js';
import { layerCam } from './methods/layer-cam.js';
import type { RawMap, StageSlice } from './methods/maps.js';
import { SMOOTHGRAD_DEFAULTS, smoothGrad } from './methods/smoothgrad.js';
import { xGradCam } from './methods/xgrad-cam.js';

import {
  EXPLAIN_METHODS,
  type ExplainMethod,
  INPUT_METHODS,
  type InputMethod,
  MAX_EXPLAIN_CLASSES,
  STAGE_METHODS,
  type StageMethod,
} from '../core/vocabulary.js';

export { EXPLAIN_METHODS, INPUT_METHODS, MAX_EXPLAIN_CLASSES, STAGE_METHODS, type ExplainMethod, type InputMethod, type StageMethod };
/** What an explanation computes when the caller names no method: the cheap ones (one run each). */
export const DEFAULT_METHODS: readonly ExplainMethod[] = ['gradcam', 'saliency', 'guided-backprop'];

const STAGE_FORMULAS: Record<Exclude<StageMethod, 'eigencam'>, (slice: StageSlice) => RawMap> = {
  gradcam: gradCam,
  'gradcam++': gradCamPlusPlus,
  xgradcam: xGradCam,
  layercam: layerCam,
  hirescam: hiResCam,
};

export const isStageMethod = (m: ExplainMethod): m is StageMethod => (STAGE_METHODS as readonly string[]).includes(m);

export interface ExplainOptions {
  /** Classes to explain (default: the top-1). */
  classes?: readonly number[];
  methods?: readonly ExplainMethod[];
  /** Deletion/insertion curves for every method's map (stage methods: at the last stage). */
  faithfulness?: boolean;
  integratedSteps?: number;
  smoothGradSamples?: number;
  /** Run the guided pass even when no guided method is asked (the CLI's output contract; default true). */
  guidedGradient?: boolean;
  /** Gradient runs kept between calls: `key` names the image and model (an app switching method or class reuses them). */
  cache?: { store: GradientCache; key: string };
  /** Progress of the multi-run methods: images of the path or samples done out of total. */
  onProgress?: (progress: ExplainProgress) => void;
  /** Stops the multi-run methods between batches (CANCELLED). */
  signal?: AbortSignal;
}

export interface ExplainProgress {
  method: 'integrated-gradients' | 'smoothgrad';
  /** The class being explained. */
  index: number;
  done: number;
  total: number;
}

export interface InputAttribution {
  /** [3, H, W] in the input tensor's layout. */
  attribution: Float32Array;
  /** Largest magnitude over the colour channels, H×W. */
  map: RawMap;
}

export interface ClassExplanation {
  index: number;
  label: string;
  /** The model's output for the class (the logit for the catalog models). */
  score: number;
  prob: number;
  /** ∂ score / ∂ stage output, [C,H,W] per stage. */
  stageGradients: Record<StageName, Float32Array>;
  /** ∂ score / ∂ input, and its guided-backprop counterpart, [3,H,W] (empty when the guided pass was skipped). */
  inputGradient: Float32Array;
  guidedInputGradient: Float32Array;
  /** Stage methods' raw maps per stage (Grad-CAM always included: the output contract needs it). */
  stageMaps: Record<StageName, Partial<Record<StageMethod, RawMap>>>;
  inputMaps: Partial<Record<InputMethod, InputAttribution>>;
  faithfulness?: Partial<Record<ExplainMethod, FaithfulnessCurves>>;
}

export interface ExplainResult {
  model: string;
  ep: string;
  methods: ExplainMethod[];
  /** The image's best classes (the class picker's shortlist). */
  top: ClassScore[];
  classes: ClassExplanation[];
  stages: { name: StageName; paperName: string; shape: [number, number, number] }[];
  /** Forward activations of the image, [C,H,W] per stage. */
  activations: Record<StageName, Float32Array>;
  timings: {
    gradientsMs: number;
    guidedMs: number;
    methodsMs: number;
    integratedGradientsMs: number;
    smoothGradMs: number;
    faithfulnessMs: number;
    totalMs: number;
  };
  /** Parameters of the multi-run methods, as used. */
  parameters: { integratedGradients: { steps: number; baseline: 'zeros (the mean colour)' }; smoothGrad: { samples: number; noise: number } };
}

const round1 = (ms: number): number => Math.round(ms * 10) / 10;

/** Checks a class list from any host: integers in range, no repeats, at most MAX_EXPLAIN_CLASSES. */
export function checkClasses(classes: readonly number[], count: number): number[] {
  if (classes.length > MAX_EXPLAIN_CLASSES)
    throw new EngineError(ErrorCode.INVALID_ARGUMENT, `at most ${MAX_EXPLAIN_CLASSES} classes per explanation (got ${classes.length})`);
  for (const c of classes)
    if (!Number.isInteger(c) || c < 0 || c >= count) throw new EngineError(ErrorCode.INVALID_ARGUMENT, `class ${c} is outside 0..${count - 1}`);
  return [...new Set(classes)];
}

/** Explanations of one preprocessed image (3×crop×crop) for the requested classes and methods. */
export async function explainTensor(explainer: Explainer, classifier: Classifier, input: Float32Array, options: ExplainOptions = {}): Promise<ExplainResult> {
  const start = performance.now();
  const map = classifier.stageMap;
  if (!map) throw new EngineError(ErrorCode.GRADIENTS_UNSUPPORTED, classifier.stagesError ?? 'explanations unavailable for this model');
  const methods = [...new Set(options.methods && options.methods.length > 0 ? options.methods : DEFAULT_METHODS)];
  const size = classifier.preprocessing.crop;
  const image: ImageInput = { input, size, inputSize: 3 * size * size };

  const runs = await gradientRuns(explainer, classifier, image, methods, options);
  const logits = runs.plain.logits[0];
  const activations = Object.fromEntries(STAGE_NAMES.map((s) => [s, runs.plain.stages[s].activation.slice()])) as Record<StageName, Float32Array>;
  let t = performance.now();
  const explanations = classExplanations(classifier, map, image, methods, runs, activations);
  const methodsMs = performance.now() - t;

  const multiRun = new MultiRunGradients(explainer, options);
  const igSteps = options.integratedSteps ?? IG_DEFAULT_STEPS;
  const samples = options.smoothGradSamples ?? SMOOTHGRAD_DEFAULTS.samples;
  t = performance.now();
  if (methods.includes('integrated-gradients')) {
    for (const e of explanations) {
      const attribution = await integratedGradients(input, e.index, multiRun.start('integrated-gradients', e.index, igSteps), { steps: igSteps });
      e.inputMaps['integrated-gradients'] = { attribution, map: channelMaxAbs(attribution, size, size) };
    }
  }
  const integratedGradientsMs = performance.now() - t;
  t = performance.now();
  if (methods.includes('smoothgrad')) {
    for (const e of explanations) {
      const attribution = await smoothGrad(input, e.index, multiRun.start('smoothgrad', e.index, samples), { samples });
      e.inputMaps.smoothgrad = { attribution, map: channelMaxAbs(attribution, size, size) };
    }
  }
  const smoothGradMs = performance.now() - t;

  t = performance.now();
  if (options.faithfulness) await addFaithfulness(classifier, image, methods, explanations);
  const faithfulnessMs = performance.now() - t;

  return {
    model: classifier.name,
    ep: runs.plain.ep,
    methods,
    top: classifier.top(logits, 5),
    classes: explanations,
    stages: map.stages.map((s) => ({ name: s.name, paperName: s.paperName, shape: s.shape })),
    activations,
    timings: {
      gradientsMs: round1(runs.gradientsMs),
      guidedMs: round1(runs.guidedMs),
      methodsMs: round1(methodsMs),
      integratedGradientsMs: round1(integratedGradientsMs),
      smoothGradMs: round1(smoothGradMs),
      faithfulnessMs: round1(faithfulnessMs),
      totalMs: round1(performance.now() - start),
    },
    parameters: { integratedGradients: { steps: igSteps, baseline: 'zeros (the mean colour)' }, smoothGrad: { samples, noise: SMOOTHGRAD_DEFAULTS.noise } },
  };
}

/** The preprocessed image and its size: `input` may hold more than one image, the first `inputSize` values are this one. */
interface ImageInput {
  input: Float32Array;
  size: number;
  inputSize: number;
}

interface GradientRuns {
  classes: number[];
  plain: GradientRun;
  /** The guided-backprop run, when a guided method or the output contract needs it. */
  guided?: GradientRun;
  gradientsMs: number;
  guidedMs: number;
}

/** The gradient runs every method reads: the plain one (logits, activations, all gradients) and the guided one. */
async function gradientRuns(
  explainer: Explainer,
  classifier: Classifier,
  { input, inputSize }: ImageInput,
  methods: readonly ExplainMethod[],
  options: ExplainOptions,
): Promise<GradientRuns> {
  let classes = options.classes && options.classes.length > 0 ? checkClasses(options.classes, classifier.info.classes) : undefined;
  let t = performance.now();
  const gradientRun = (chosen: number[], guided: boolean) =>
    options.cache
      ? options.cache.store.run(explainer, options.cache.key, input.subarray(0, inputSize), chosen, guided)
      : explainer.run(input, 1, { classes: chosen, guided });
  if (!classes) {
    // The top-1 from a plain inference (a third of a gradient run), or from the cached run of the image.
    const known = options.cache?.store.logits(options.cache.key);
    const logits = known ?? (await classifier.run(input.subarray(0, inputSize), 1)).logits[0];
    classes = [classifier.top(logits, 1)[0].index];
  }
  const plain = await gradientRun(classes, false);
  const gradientsMs = performance.now() - t;
  t = performance.now();
  const needsGuided = options.guidedGradient !== false || methods.includes('guided-backprop') || methods.includes('guided-gradcam');
  const guided = needsGuided ? await gradientRun(classes, true) : undefined;
  const guidedMs = performance.now() - t;
  return { classes, plain, guided, gradientsMs, guidedMs };
}

/** Each class's gradients and the single-run methods' maps (stage maps per stage, input maps). */
function classExplanations(
  classifier: Classifier,
  map: StageMap,
  { size, inputSize }: ImageInput,
  methods: readonly ExplainMethod[],
  { classes, plain, guided }: GradientRuns,
  activations: Record<StageName, Float32Array>,
): ClassExplanation[] {
  const logits = plain.logits[0];
  const probs = softmax(logits);
  const eigen = methods.includes('eigencam') ? Object.fromEntries(map.stages.map((s) => [s.name, eigenCam(activations[s.name], s.shape)])) : undefined;
  return classes.map((index, row) => {
    const stageGradients = {} as Record<StageName, Float32Array>;
    const stageMaps = {} as Record<StageName, Partial<Record<StageMethod, RawMap>>>;
    for (const stage of map.stages) {
      const n = stage.shape[0] * stage.shape[1] * stage.shape[2];
      const gradient = plain.stages[stage.name].gradient.slice(row * n, (row + 1) * n);
      stageGradients[stage.name] = gradient;
      const slice: StageSlice = { activation: activations[stage.name], gradient, shape: stage.shape };
      stageMaps[stage.name] = stageMethodMaps(slice, methods, eigen?.[stage.name]);
    }
    const inputGradient = plain.inputGradient.slice(row * inputSize, (row + 1) * inputSize);
    const guidedInputGradient = guided ? guided.inputGradient.slice(row * inputSize, (row + 1) * inputSize) : new Float32Array(0);
    const inputMaps: Partial<Record<InputMethod, InputAttribution>> = {};
    if (methods.includes('saliency')) inputMaps.saliency = { attribution: inputGradient, map: channelMaxAbs(inputGradient, size, size) };
    if (methods.includes('guided-backprop'))
      inputMaps['guided-backprop'] = { attribution: guidedInputGradient, map: channelMaxAbs(guidedInputGradient, size, size) };
    if (methods.includes('guided-gradcam')) inputMaps['guided-gradcam'] = guidedGradCam(guidedInputGradient, stageMaps.layer4.gradcam as RawMap, size, size);
    return {
      index,
      label: classifier.labels[index] ?? `class ${index}`,
      score: logits[index],
      prob: probs[index],
      stageGradients,
      inputGradient,
      guidedInputGradient,
      stageMaps,
      inputMaps,
    };
  });
}

/** The stage methods' maps of one stage for one class (Grad-CAM always: the output contract needs it). */
function stageMethodMaps(slice: StageSlice, methods: readonly ExplainMethod[], eigen: RawMap | undefined): Partial<Record<StageMethod, RawMap>> {
  const maps: Partial<Record<StageMethod, RawMap>> = { gradcam: gradCam(slice) };
  for (const m of methods) {
    if (m === 'eigencam' && eigen) maps.eigencam = eigen;
    else if (isStageMethod(m) && m !== 'eigencam') maps[m] = STAGE_FORMULAS[m](slice);
  }
  return maps;
}

/**
 * The batched gradient runs of the multi-run methods (one class row per image of each batch), with
 * their progress and cancellation.
 */
class MultiRunGradients {
  private progress: Omit<ExplainProgress, 'done'> | undefined;
  private done = 0;

  constructor(
    private readonly explainer: Explainer,
    private readonly options: ExplainOptions,
  ) {}

  /** Starts reporting one method's progress for one class; returns the gradient function the method calls. */
  start(method: ExplainProgress['method'], index: number, total: number): (batch: Float32Array, count: number, target: number) => Promise<Float32Array> {
    this.progress = { method, index, total };
    this.done = 0;
    this.options.onProgress?.({ ...this.progress, done: this.done });
    return (batch, count, target) => this.gradientsOf(batch, count, target);
  }

  private async gradientsOf(batch: Float32Array, count: number, target: number): Promise<Float32Array> {
    await this.checkCancelled();
    const gradients = (await this.explainer.run(batch, count, { classes: new Array<number>(count).fill(target) })).inputGradient;
    // Checked again after the run: a cancel that came during it (even the last) stops here.
    await this.checkCancelled();
    this.done += count;
    if (this.progress) this.options.onProgress?.({ ...this.progress, done: this.done });
    return gradients;
  }

  // onnxruntime-node's run holds the event loop: a cancel request that arrived during a run is read
  // only once the loop turns, so turn it (setImmediate) before looking at the signal.
  private async checkCancelled(): Promise<void> {
    const signal = this.options.signal;
    if (!signal) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (signal.aborted) throw new EngineError(ErrorCode.CANCELLED, 'explanation cancelled');
  }
}

/** Deletion/insertion curves of every method's map (stage methods: at the last stage), per class. */
async function addFaithfulness(
  classifier: Classifier,
  { input, inputSize }: ImageInput,
  methods: readonly ExplainMethod[],
  explanations: ClassExplanation[],
): Promise<void> {
  for (const e of explanations) {
    e.faithfulness = {};
    for (const m of methods) {
      const shown = isStageMethod(m) ? e.stageMaps.layer4[m] : e.inputMaps[m]?.map;
      if (shown) e.faithfulness[m] = await faithfulness(classifier, input.subarray(0, inputSize), shown, e.index);
    }
  }
}

export interface ExplainedImage {
  result: ExplainResult;
  /** The preprocessed input the explanations are of. */
  input: Float32Array;
  facts: ImageFacts;
  /** The decoded upright photo and the region the network saw, for overlays. */
  decoded: DecodedImage;
  photoRegion: FeatureResult['photoRegion'];
}

/** Reads, decodes and preprocesses one image file for explanations. */
export async function prepareExplainImage(classifier: Classifier, file: string, options: { maxPixels?: number } = {}): Promise<Omit<ExplainedImage, 'result'>> {
  // A FIFO or device would block the read forever (or stream without end): only regular files.
  const info = await stat(file).catch(() => undefined);
  if (info && !info.isFile() && !info.isDirectory())
    throw new EngineError(ErrorCode.NOT_AN_IMAGE, 'not a regular file (a pipe, socket or device)', { item: file });
  const bytes = await readImageFile(file);
  const decoded = await decodeImage(bytes, { item: file, maxPixels: options.maxPixels });
  const { tensor, facts } = tensorFromDecoded(decoded, classifier.preprocessing);
  return { input: tensor, facts, decoded, photoRegion: regionInOriginal(facts) };
}

/** Reads, decodes and preprocesses one image file, then explains it. */
export async function explainFile(
  explainer: Explainer,
  classifier: Classifier,
  file: string,
  options: ExplainOptions & { maxPixels?: number } = {},
): Promise<ExplainedImage> {
  const prepared = await prepareExplainImage(classifier, file, options);
  const result = await explainTensor(explainer, classifier, prepared.input, options);
  return { result, ...prepared };
}
