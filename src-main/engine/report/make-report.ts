// Runs one photo through the network and builds its HTML report (html-report.ts): the app's
// "Export report" (features.report) and `reslens report` both call this.
import path from 'node:path';
import sharp from 'sharp';
import type { Classifier } from '../infer/classifier.js';
import { overlayPng } from '../features/colormap.js';
import { type ColormapName } from '../core/vocabulary.js';
import { extractFeatures, photoCrop } from '../features/extract.js';
import { STAGE_NOTES } from '../model/stage-notes.js';
import { buildHtmlReport } from './html-report.js';

export interface ReportOptions {
  /** The name shown for the photo (default: the file's base name). */
  fileName?: string;
  title?: string;
  pretrained?: boolean;
  colormap?: ColormapName;
  /** Side of each image in pixels. */
  size?: number;
  /** Heatmap opacity at the highest value (transparency follows the value). */
  opacity?: number;
}

export interface ReportResult {
  html: string;
  fileName: string;
  top: { label: string; prob: number; index: number }[];
  stages: string[];
  cams: number;
}

export async function makeReport(classifier: Classifier, file: string, options: ReportOptions = {}): Promise<ReportResult> {
  const { result, decoded } = await extractFeatures(classifier, file, { topChannels: 1, topClasses: 5 });
  const size = options.size ?? 320;
  const photo = await photoCrop(decoded, result.photoRegion, size);
  const overlay = { colormap: options.colormap ?? 'inferno', opacity: options.opacity ?? 0.85, transparency: 'value' as const };
  const photoJpeg = await sharp(photo.data, { raw: { width: photo.width, height: photo.height, channels: 3 } })
    .jpeg({ quality: 88 })
    .toBuffer();
  const stages = [];
  for (const stage of result.stages) {
    stages.push({
      name: stage.name,
      paperName: stage.paperName,
      shape: stage.shape,
      blocks: stage.blocks,
      stats: stage.stats,
      range: { min: stage.heatmap.min, max: stage.heatmap.max },
      note: STAGE_NOTES[stage.name],
      ...(classifier.stageMap ? { receptiveField: classifier.stageMap.stages.find((s) => s.name === stage.name)?.receptiveField } : {}),
      image: { mime: 'image/png' as const, data: await overlayPng(photo, stage.heatmap, overlay) },
    });
  }
  const cams = [];
  for (const cam of result.cams)
    cams.push({
      label: cam.label,
      prob: cam.prob,
      logit: cam.logit,
      image: { mime: 'image/png' as const, data: await overlayPng(photo, cam.map, { ...overlay, colormap: 'jet' }) },
    });
  const fileName = options.fileName ?? path.basename(file);
  const html = buildHtmlReport({
    fileName,
    model: { name: classifier.name, title: options.title, pretrained: options.pretrained },
    ep: result.ep,
    ms: result.ms,
    createdAt: new Date(),
    photo: { mime: 'image/jpeg', data: photoJpeg },
    top: result.top.map((t) => ({ label: t.label, prob: t.prob, index: t.index })),
    stages,
    cams,
    legend: `Stage maps: the mean activation over each stage's channels, upsampled and normalised per map (its lowest value → 0, its highest → 1); colour ${overlay.colormap}, and the opacity follows the value (up to ${Math.round(overlay.opacity * 100)}%), so low values leave the photo visible.`,
  });
  return { html, fileName, top: result.top, stages: result.stages.map((s) => s.name), cams: cams.length };
}
