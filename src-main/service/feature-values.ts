// Engine feature results → contract values, once for every request that returns stage maps: the
// feature view's `features.get` and the block strip's lesioned `blocks.features` (which replaces the
// feature view's maps while blocks are removed). Written in each before, the lesioned copy had
// dropped the maps' value ranges, the stage notes and the receptive fields, so the colour bar's
// numbers, the stage's note and the hover box vanished as soon as a block was lesioned.
import type { FeaturesValue, HeatmapValue, StageFeaturesValue } from '../api/contract.js';
import { STAGE_NOTES } from '../engine/model/stage-notes.js';
import type { ClassActivation, StageFeatures } from '../engine/features/extract.js';
import type { Heatmap } from '../engine/features/reduce.js';
import type { Classifier } from '../engine/infer/classifier.js';

/** A map as the contract sends it (only these fields: the engine's objects may carry more). */
export function heatmapValue(map: Heatmap): HeatmapValue {
  return { width: map.width, height: map.height, data: map.data, min: map.min, max: map.max };
}

/** Milliseconds to one decimal, as every timing in the contract. */
export const tenthsOfMs = (ms: number): number => Math.round(ms * 10) / 10;

/**
 * One stage's maps, statistics and ranked channels, with what the model says of the stage (its
 * receptive field) and what such stages respond to. `channelMeans` only where the channel grid can
 * show the same network's channel maps: `features.channel` serves the maps of the intact run the
 * feature view made, so a lesioned run's means would sort the grid by maps it does not show.
 */
export function stageValue(classifier: Classifier, stage: StageFeatures, options: { channelMeans: boolean }): StageFeaturesValue {
  const receptiveField = classifier.stageMap?.stages.find((s) => s.name === stage.name)?.receptiveField;
  return {
    name: stage.name,
    paperName: stage.paperName,
    shape: stage.shape,
    blocks: stage.blocks,
    stats: stage.stats,
    heatmap: heatmapValue(stage.heatmap),
    topChannels: stage.topChannels.map((c) => ({ channel: c.channel, meanActivation: c.meanActivation, map: heatmapValue(c.map) })),
    ...(options.channelMeans ? { channelMeans: stage.channelMeans } : {}),
    note: STAGE_NOTES[stage.name],
    ...(receptiveField ? { receptiveField } : {}),
  };
}

/** One class activation map with its class. */
export function camValue(cam: ClassActivation): FeaturesValue['cams'][number] {
  return { index: cam.index, label: cam.label, prob: cam.prob, logit: cam.logit, map: heatmapValue(cam.map) };
}
