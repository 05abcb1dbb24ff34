// Small engine answers for the renderer's state tests, shaped as the contract says (tagged so a test can
// tell which request an answer belongs to).
import { STAGE_NAMES, PAPER_NAMES } from '../../../../src-main/api/vocabulary.js';
import type { BatchRow, BatchSummary, FeaturesValue, HeatmapValue, ImageId, StageName } from '../../../../src-main/api/contract.js';

export const heatmap = (value = 0.5): HeatmapValue => ({ width: 2, height: 2, data: new Float32Array([value, value, value, value]) });

/** A features answer for `image` whose top class is `label`, with these stages. */
export function features(image: ImageId, label: string, stages: readonly StageName[] = STAGE_NAMES): FeaturesValue {
  return {
    image,
    top: [{ index: 7, label, prob: 0.8 }],
    ep: 'cpu',
    ms: 10,
    crop: { jpeg: new Uint8Array([0xff, 0xd8, 0xff]), width: 224, height: 224 },
    stages: stages.map((name) => ({
      name,
      paperName: PAPER_NAMES[name],
      shape: [64, 56, 56],
      blocks: 3,
      stats: { max: 1, mean: 0.5, zeroFraction: 0.1 },
      heatmap: heatmap(),
      topChannels: [{ channel: 3, meanActivation: 0.7, map: heatmap() }],
    })),
    cams: [],
  };
}

export function summary(batch: string, state: BatchSummary['state'], done: number, extra: Partial<BatchSummary> = {}): BatchSummary {
  return { batch, folder: '/photos', state, done, failed: 0, total: 10, imagesPerSecond: 5, etaSeconds: null, ...extra };
}

export const row = (i: number): BatchRow => ({ path: `photo-${i}.jpg`, top: [{ index: i, label: `class ${i}`, prob: 0.5 }], ep: 'cpu', ms: 3 });
