// The feature export of one image, once for every host: per-stage heatmap overlays, channel grids,
// class activation maps and the raw stage tensors, with a summary.json that lists them. The CLI
// (`reslens features`) only translates its flags into these options and prints the result.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { EngineError } from '../core/errors.js';
import { replaceFile } from '../core/files.js';
import { ErrorCode } from '../core/vocabulary.js';
import type { Classifier } from '../infer/classifier.js';
import { gridPng, overlayPng } from './colormap.js';
import { type ColormapName, type HeatmapMode } from '../core/vocabulary.js';
import { extractFeatures, photoCrop } from './extract.js';
import { encodeNpy } from './npy.js';

export interface FeatureExportOptions {
  /** Classes to draw class activation maps for. */
  topClasses: number;
  /** Most active channels shown per stage. */
  channels: number;
  colormap: ColormapName;
  /** Heatmap opacity over the photo, 0..1. */
  opacity: number;
  /** Stage heatmap: mean or max over channels. */
  mode: HeatmapMode;
  /** Side of the overlay images in pixels. */
  size: number;
  /** int8 was asked for: the maps still come from fp32 (the int8 graph has no stage taps), and the summary says so. */
  requestedPrecision?: 'fp32' | 'int8';
}

/** The summary.json written beside the files (its schema is part of the CLI's documented output). */
export interface FeatureExportSummary {
  image: string;
  model: string;
  ep: string;
  ms: number;
  input: Record<string, unknown>;
  top: { index: number; label: string; prob: number; logit?: number }[];
  heatmap: { mode: HeatmapMode; colormap: ColormapName; opacity: number; size: number };
  stages: {
    name: string;
    paperName: string;
    tensor: string;
    shape: number[];
    blocks: number;
    stats: unknown;
    topChannels: { channel: number; meanActivation: number }[];
    files: { tensor: string; overlay: string; channels: string };
  }[];
  cams: { rank: number; index: number; label: string; prob: number; logit: number; bias: number; camMean: number; file: string }[];
  precision?: 'fp32';
  precisionNote?: string;
  /** Every file written, summary.json last. */
  files: string[];
}

export const INT8_FEATURES_NOTE = 'int8 requested: feature maps come from the fp32 model (the int8 copy has no stage outputs)';

/** A file-name-safe version of a class label ("Egyptian cat" → "egyptian-cat"). */
const slug = (label: string): string =>
  label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 40) || 'class';

/** Writes the feature export of `image` into `outDir` (created if missing) and returns its summary. */
export async function exportFeatures(classifier: Classifier, image: string, outDir: string, options: FeatureExportOptions): Promise<FeatureExportSummary> {
  if (!classifier.stageMap) throw new EngineError(ErrorCode.UNSUPPORTED_MODEL, classifier.stagesError ?? 'feature maps unavailable for this model');
  const { result, decoded } = await extractFeatures(classifier, image, {
    topChannels: options.channels,
    topClasses: options.topClasses,
    heatmapMode: options.mode,
    keepTensors: true,
  });
  await mkdir(outDir, { recursive: true });
  const photo = await photoCrop(decoded, result.photoRegion, options.size);
  const files: string[] = [];
  const save = async (name: string, data: Buffer) => {
    await replaceFile(path.join(outDir, name), data);
    files.push(name);
  };
  await save(
    'input.png',
    await sharp(photo.data, { raw: { width: photo.width, height: photo.height, channels: 3 } })
      .png()
      .toBuffer(),
  );

  const stages: FeatureExportSummary['stages'] = [];
  for (const stage of result.stages) {
    const tensor = result.tensors?.stages[stage.name];
    if (!tensor) throw new EngineError(ErrorCode.INFERENCE_FAILED, `stage ${stage.name} missing from the run`);
    await save(`${stage.name}.npy`, encodeNpy(tensor, stage.shape));
    await save(`${stage.name}.png`, await overlayPng(photo, stage.heatmap, { colormap: options.colormap, opacity: options.opacity }));
    await save(
      `${stage.name}-channels.png`,
      await gridPng(
        stage.topChannels.map((c) => c.map),
        { columns: 4, cell: 112, colormap: 'viridis' },
      ),
    );
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
  const cams: FeatureExportSummary['cams'] = [];
  for (const [rank, cam] of result.cams.entries()) {
    const name = `cam-${rank + 1}-${slug(cam.label)}.png`;
    await save(name, await overlayPng(photo, cam.map, { colormap: 'jet', opacity: options.opacity }));
    cams.push({ rank: rank + 1, index: cam.index, label: cam.label, prob: cam.prob, logit: cam.logit, bias: cam.bias, camMean: cam.rawMean, file: name });
  }
  const summary: FeatureExportSummary = {
    image,
    model: result.model,
    ep: result.ep,
    ms: result.ms,
    input: { ...result.facts, photoRegion: result.photoRegion },
    top: result.top,
    heatmap: { mode: options.mode, colormap: options.colormap, opacity: options.opacity, size: photo.width },
    stages,
    cams,
    ...(options.requestedPrecision === 'int8' ? { precision: 'fp32' as const, precisionNote: INT8_FEATURES_NOTE } : {}),
    files: [...files, 'summary.json'],
  };
  await replaceFile(path.join(outDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}
