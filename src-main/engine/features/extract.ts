// One image → classification, per-stage heatmaps, top channels and class activation maps, all
// from a single inference. Full stage tensors are kept only when the caller asks for them.
import sharp from 'sharp';
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import type { Classifier, ImageFeatures, ImageSummary } from '../infer/classifier.js';
import { type ClassScore, DEFAULT_TOP_CLASSES } from '../infer/topk.js';
import { GRAPH_TOP_CHANNELS } from '../model/reduction-graph.js';
import { DEFAULT_RANKED_CHANNELS } from '../core/vocabulary.js';
import { type StageInfo } from '../model/stages.js';
import { STAGE_NAMES, type StageName } from '../core/vocabulary.js';
import { type DecodedImage, decodeImage } from '../preprocess/decode.js';
import { type ImageFacts, readImageFile, tensorFromDecoded } from '../preprocess/preprocess.js';
import {
  type Heatmap,
  type HeatmapMode,
  type RankedChannel,
  type StageStatistics,
  channelMap,
  classActivationMap,
  normalise,
  rankChannels,
  reduceStage,
} from './reduce.js';

export interface FeatureOptions {
  /** Channels ranked per stage (default 8). */
  topChannels?: number;
  /** Classes with a class activation map (default 5). */
  topClasses?: number;
  heatmapMode?: HeatmapMode;
  /**
   * Fetch the full [C,H,W] stage tensors and keep them in the result (large: ~7 MB for ResNet-50).
   * Without it the reductions are computed inside the graph and only they leave the session.
   */
  keepTensors?: boolean;
  maxPixels?: number;
}

export interface StageFeatures {
  name: StageName;
  paperName: string;
  tensor: string;
  shape: [number, number, number];
  blocks: number;
  stats: StageStatistics;
  heatmap: Heatmap;
  topChannels: (RankedChannel & { map: Heatmap })[];
  /** Every channel's spatial mean (the channel grid sorts by it). */
  channelMeans: Float32Array;
}

export interface ClassActivation extends ClassScore {
  logit: number;
  bias: number;
  /** Spatial mean of the raw map: equals logit − bias (the exactness check). */
  rawMean: number;
  map: Heatmap;
}

export interface FeatureResult {
  path: string;
  model: string;
  ep: string;
  ms: number;
  top: ClassScore[];
  facts: ImageFacts;
  stages: StageFeatures[];
  cams: ClassActivation[];
  /** The region of the upright photo the network saw (the centre crop), at its original resolution. */
  photoRegion: { left: number; top: number; width: number; height: number };
  tensors?: ImageFeatures;
}

/** The centre crop mapped back from the resized image onto the upright original. */
export function regionInOriginal(facts: ImageFacts): FeatureResult['photoRegion'] {
  const sx = facts.width / facts.resized.width;
  const sy = facts.height / facts.resized.height;
  const left = Math.max(0, Math.floor(facts.crop.left * sx));
  const top = Math.max(0, Math.floor(facts.crop.top * sy));
  return {
    left,
    top,
    width: Math.max(1, Math.min(facts.width - left, Math.round(facts.crop.width * sx))),
    height: Math.max(1, Math.min(facts.height - top, Math.round(facts.crop.height * sy))),
  };
}

type Reduced = { stages: StageFeatures[]; cams: ClassActivation[]; top: ClassScore[] };

function requireStages(classifier: Classifier) {
  const map = classifier.stageMap;
  const head = classifier.headWeights;
  if (!map || !head) throw new EngineError(ErrorCode.UNSUPPORTED_MODEL, classifier.stagesError ?? 'feature maps unavailable for this model');
  return { map, head };
}

/**
 * Class activation maps for the top classes: those the graph ranked and mapped (`graph`: its TopK
 * order, so ties break as onnxruntime breaks them and every class shown has its map), or, for more
 * classes than it maps, the JavaScript ranking with the rest mapped from the head's features.
 */
function activationMaps(
  classifier: Classifier,
  headFeatures: Float32Array | undefined,
  logits: Float32Array,
  topClasses: number,
  graph?: { classes: number[]; maps: Float32Array },
): { cams: ClassActivation[]; top: ClassScore[] } {
  const { map, head } = requireStages(classifier);
  const [, h, w] = map.head.featuresShape;
  const plane = h * w;
  const precomputed = new Map(graph?.classes.map((c, i) => [c, graph.maps.subarray(i * plane, (i + 1) * plane)]));
  const graphRanksEnough = graph !== undefined && graph.classes.length >= Math.min(topClasses, logits.length);
  const top = graphRanksEnough ? classifier.scoresOf(logits, graph.classes.slice(0, topClasses)) : classifier.top(logits, topClasses);
  const cams = top.map((score) => {
    const raw = precomputed.get(score.index) ?? (headFeatures && classActivationMap(headFeatures, map.head.featuresShape, head, score.index));
    if (!raw)
      throw new EngineError(
        ErrorCode.INFERENCE_FAILED,
        `no class activation map for class ${score.index}: the run fetched neither its map nor the head's features`,
      );
    let sum = 0;
    for (const v of raw) sum += v;
    // In place: `raw` is the run's output or a map made just now (see summaryFeatures).
    const normalised = normalise(raw, w, h, raw);
    return { ...score, logit: logits[score.index], bias: head.bias?.[score.index] ?? 0, rawMean: sum / raw.length, map: normalised };
  });
  return { cams, top };
}

/** What names a stage in a result, whichever way it was reduced. */
function stageIdentity(stage: StageInfo): Pick<StageFeatures, 'name' | 'paperName' | 'tensor' | 'shape' | 'blocks'> {
  return { name: stage.name, paperName: stage.paperName, tensor: stage.tensor, shape: stage.shape, blocks: stage.blocks };
}

/** Everything reduced in JavaScript from the full stage tensors (the reference implementation). */
export function reduceFeatures(classifier: Classifier, features: ImageFeatures, logits: Float32Array, options: FeatureOptions = {}): Reduced {
  const { map } = requireStages(classifier);
  const k = options.topChannels ?? DEFAULT_RANKED_CHANNELS;
  const stages = map.stages.map((stage: StageInfo) => {
    const values = features.stages[stage.name];
    const reduced = reduceStage(values, stage.shape, options.heatmapMode ?? 'mean');
    return {
      ...stageIdentity(stage),
      stats: reduced.stats,
      heatmap: reduced.heatmap,
      channelMeans: Float32Array.from(reduced.channelMeans),
      topChannels: rankChannels(reduced.channelMeans, k).map((c) => ({ ...c, map: channelMap(values, stage.shape, c.channel) })),
    };
  });
  return { stages, ...activationMaps(classifier, features.headFeatures, logits, options.topClasses ?? DEFAULT_TOP_CLASSES) };
}

/**
 * The same result from the reductions onnxruntime computed inside the graph. It takes over the
 * summary: its maps are normalised in place and become the result's (views of the run's outputs,
 * which onnxruntime-node allocates fresh for each run anyway). A map storage of our own per image
 * (263 KB for ResNet-50's 45 maps) made V8 run a major GC every ~8 feature images (--trace-gc: 40
 * Mark-Compacts in 300 runs, 3 without it), each marking on the second core beside inference.
 */
export function summaryFeatures(classifier: Classifier, summary: ImageSummary, logits: Float32Array, options: FeatureOptions = {}): Reduced {
  const { map } = requireStages(classifier);
  const k = options.topChannels ?? DEFAULT_RANKED_CHANNELS;
  const topClasses = options.topClasses ?? DEFAULT_TOP_CLASSES;
  const stages = map.stages.map((stage: StageInfo) => {
    const s = summary.stages[stage.name];
    const [channels, height, width] = stage.shape;
    const plane = height * width;
    const channelMeans = s.channelMeans;
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += channelMeans[c];
    const mean = sum / channels;
    return {
      ...stageIdentity(stage),
      stats: { max: s.max, mean, zeroFraction: 1 - s.nonZeroFraction },
      heatmap: normalise(s.heatmap, width, height, s.heatmap),
      channelMeans,
      topChannels: s.topChannels.slice(0, k).map((channel, rank) => {
        const view = s.topMaps.subarray(rank * plane, (rank + 1) * plane);
        return { channel, meanActivation: channelMeans[channel], map: normalise(view, width, height, view) };
      }),
    };
  });
  return { stages, ...activationMaps(classifier, summary.headFeatures, logits, topClasses, { classes: summary.camClasses, maps: summary.cams }) };
}

export interface ExtractedImage {
  result: FeatureResult;
  /** The decoded upright photo, for overlays. */
  decoded: DecodedImage;
}

export async function extractFeatures(classifier: Classifier, file: string, options: FeatureOptions = {}): Promise<ExtractedImage> {
  const start = performance.now();
  const bytes = await readImageFile(file);
  const decoded = await decodeImage(bytes, { item: file, maxPixels: options.maxPixels });
  const { tensor, facts } = tensorFromDecoded(decoded, classifier.preprocessing);
  // More ranked channels than the graph keeps means the full tensors are needed anyway.
  const full = options.keepTensors === true || (options.topChannels ?? DEFAULT_RANKED_CHANNELS) > GRAPH_TOP_CHANNELS;
  const mode = options.heatmapMode ?? 'mean';
  const run = await classifier.run(tensor, 1, full ? { features: true } : { summary: { heatmapMode: mode, classes: options.topClasses } });
  const features = run.features?.[0];
  const summary = run.summaries?.[0];
  let reduced: Reduced;
  if (features) reduced = reduceFeatures(classifier, features, run.logits[0], options);
  else if (summary) reduced = summaryFeatures(classifier, summary, run.logits[0], options);
  else throw new EngineError(ErrorCode.INFERENCE_FAILED, 'the run returned no stage outputs', { item: file });
  const result: FeatureResult = {
    path: file,
    model: classifier.name,
    ep: run.epByImage[0] ?? classifier.ep,
    ms: Math.round((performance.now() - start) * 10) / 10,
    facts,
    photoRegion: regionInOriginal(facts),
    ...reduced,
  };
  if (options.keepTensors && features) {
    // Copy out of onnxruntime's output buffers so the result owns its data.
    result.tensors = {
      stages: Object.fromEntries(STAGE_NAMES.map((s) => [s, features.stages[s].slice()])) as Record<StageName, Float32Array>,
      headFeatures: features.headFeatures.slice(),
    };
  }
  return { result, decoded };
}

/** The region the network saw, as raw RGB at `size` × `size` (or the region's own size when smaller). */
export async function photoCrop(
  decoded: DecodedImage,
  region: FeatureResult['photoRegion'],
  size: number,
): Promise<{ data: Buffer; width: number; height: number }> {
  const side = Math.max(16, Math.min(size, Math.max(region.width, region.height) * 4));
  const { data, info } = await sharp(decoded.data, { raw: { width: decoded.width, height: decoded.height, channels: 3 } })
    .extract(region)
    .resize(side, side, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

export { STAGE_NAMES };
