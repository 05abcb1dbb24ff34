// Compare (issue 15): the feature view's photo beside a second model's view of it, or beside a second
// photo under the same model. The stage is the feature view's own (fv.stage), so both sides move in step.
import type { ClassScore, FeaturesValue, HeatmapMode } from '../../../src-main/api/contract.js';
import { type Transport, toErrorValue } from '../transport/index.js';
import { decodeCrop } from '../util/crop-photo.svelte.js';
import type { Card } from './images.svelte.js';

export type CompareTarget = { kind: 'model'; model: string } | { kind: 'photo'; card: Card };

/** Where the two top-5 lists differ: classes only one side has, and rank moves of shared ones. */
export type TopDifference = { onlyHere: boolean; rankChange: number; probChange: number };

/** Per class index of `left`: whether `right` lacks it, and how its rank and probability move. */
export function topDifferences(left: ClassScore[], right: ClassScore[]): Record<number, TopDifference> {
  const out: Record<number, TopDifference> = {};
  left.forEach((c, rank) => {
    const other = right.findIndex((r) => r.index === c.index);
    out[c.index] = { onlyHere: other < 0, rankChange: other < 0 ? 0 : other - rank, probChange: other < 0 ? c.prob : c.prob - right[other].prob };
  });
  return out;
}

export class CompareState {
  target = $state.raw<CompareTarget | null>(null);
  value = $state.raw<FeaturesValue | null>(null);
  photo = $state.raw<ImageBitmap | null>(null);
  loading = $state(false);
  error = $state<{ code: string; message: string } | null>(null);
  private request = 0;

  constructor(private readonly transport: Transport) {}

  clear(): void {
    this.request++;
    this.target = null;
    this.value = null;
    this.photo = null;
    this.error = null;
    this.loading = false;
  }

  async load(target: CompareTarget, image: Card['image'], mode: HeatmapMode): Promise<void> {
    this.target = target;
    const id = target.kind === 'photo' ? target.card.image : image;
    if (!id) return;
    const request = ++this.request;
    this.loading = true;
    this.error = null;
    this.value = null;
    try {
      const value = await this.transport.api.call('features.get', {
        image: id,
        mode,
        channels: 12,
        classes: 5,
        ...(target.kind === 'model' ? { model: target.model } : {}),
      });
      if (request !== this.request) return;
      this.value = value;
      this.photo = await decodeCrop(value.crop.jpeg);
    } catch (error) {
      if (request === this.request) this.error = toErrorValue(error);
    } finally {
      if (request === this.request) this.loading = false;
    }
  }
}
