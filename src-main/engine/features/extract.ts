// One image → classification, per-stage heatmaps, top channels and class activation maps, all
// from a single inference. Full stage tensors are kept only when the caller asks for them.
import sharp from 'sharp';
import { EngineError, ErrorCode } from '../errors.js';
import type { Classifier, ImageFeatures } from '../infer/classifier.js';
import type { ClassScore } from '../infer/topk.js';
import { STAGE_NAMES, type StageInfo, type StageName } from '../model/stages.js';
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
  /** Keep the full [C,H,W] stage tensors in the result (large: ~10 MB for ResNet-50). */
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
function regionInOriginal(facts: ImageFacts): FeatureResult['photoRegion'] {
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

export function reduceFeatures(classifier: Classifier, features: ImageFeatures, logits: Float32Array, options: FeatureOptions = {}): { stages: StageFeatures[]; cams: ClassActivation[]; top: ClassScore[] } {
  const map = classifier.stageMap;
  const head = classifier.headWeights;
  if (!map || !head) throw new EngineError(ErrorCode.UNSUPPORTED_MODEL, classifier.stagesError ?? 'feature maps unavailable for this model');
  const k = options.topChannels ?? 8;
  const stages = map.stages.map((stage: StageInfo) => {
    const values = features.stages[stage.name];
    const reduced = reduceStage(values, stage.shape, options.heatmapMode ?? 'mean');
    return {
      name: stage.name,
      paperName: stage.paperName,
      tensor: stage.tensor,
      shape: stage.shape,
      blocks: stage.blocks,
      stats: reduced.stats,
      heatmap: reduced.heatmap,
      topChannels: rankChannels(reduced.channelMeans, k).map((c) => ({ ...c, map: channelMap(values, stage.shape, c.channel) })),
    };
  });
  const top = classifier.top(logits, options.topClasses ?? 5);
  const [, h, w] = map.head.featuresShape;
  const cams = top.map((score) => {
    const raw = classActivationMap(features.headFeatures, map.head.featuresShape, head, score.index);
    let sum = 0;
    for (const v of raw) sum += v;
    return { ...score, logit: logits[score.index], bias: head.bias?.[score.index] ?? 0, rawMean: sum / raw.length, map: normalise(raw, w, h) };
  });
  return { stages, cams, top };
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
  const run = await classifier.run(tensor, 1, { features: true });
  const features = run.features?.[0];
  if (!features) throw new EngineError(ErrorCode.INFERENCE_FAILED, 'the run returned no stage outputs', { item: file });
  const reduced = reduceFeatures(classifier, features, run.logits[0], options);
  const result: FeatureResult = {
    path: file,
    model: classifier.name,
    ep: run.epByImage[0] ?? classifier.ep,
    ms: Math.round((performance.now() - start) * 10) / 10,
    facts,
    photoRegion: regionInOriginal(facts),
    ...reduced,
  };
  if (options.keepTensors) {
    // Copy out of onnxruntime's output buffers so the result owns its data.
    result.tensors = {
      stages: Object.fromEntries(STAGE_NAMES.map((s) => [s, features.stages[s].slice()])) as Record<StageName, Float32Array>,
      headFeatures: features.headFeatures.slice(),
    };
  }
  return { result, decoded };
}

/** The region the network saw, as raw RGB at `size` × `size` (or the region's own size when smaller). */
export async function photoCrop(decoded: DecodedImage, region: FeatureResult['photoRegion'], size: number): Promise<{ data: Buffer; width: number; height: number }> {
  const side = Math.max(16, Math.min(size, Math.max(region.width, region.height) * 4));
  const { data, info } = await sharp(decoded.data, { raw: { width: decoded.width, height: decoded.height, channels: 3 } })
    .extract(region)
    .resize(side, side, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

export { STAGE_NAMES };
