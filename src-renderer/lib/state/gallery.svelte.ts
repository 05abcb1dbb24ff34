// The results gallery's data: thumbnails of batch results (asked of the engine by run and row, never
// by path: results.thumbnail) and opening a result in the feature view (results.open issues an image
// id for its photo). Thumbnails are fetched only for tiles on screen, two at a time, and kept per run.
import { SvelteMap } from 'svelte/reactivity';
import type { BatchId, BatchRow, ClassScore, ErrorValue } from '../../../src-main/api/contract.js';
import { type Transport, toErrorValue } from '../transport/index.js';
import { jpegUrl } from '../util/format.js';
import { limiter } from '../util/queue.js';
import type { FeatureState } from './features.svelte.js';
import type { Card } from './images.svelte.js';
import type { Toasts } from './toasts.svelte.js';

/** One tile: a batch row or an Images card, the same to the gallery. */
export interface GalleryItem {
  key: number;
  name: string;
  /** Where it is (relative to the run's folder), shown under the name. */
  where?: string;
  top?: ClassScore;
  error?: ErrorValue;
}

export const GALLERY_THUMB = 192;

const VIEW_KEY = 'reslens.results-view';

export class ResultsGalleryState {
  /** Batch results as a thumbnail grid or the table (remembered). */
  view = $state<'grid' | 'table'>(loadView());
  /** Row index → object URL (null: no preview could be made). */
  readonly thumbs = new SvelteMap<number, string | null>();
  private batch: BatchId | null = null;
  /** Requests in flight (bookkeeping only: nothing renders from it). */
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- not UI state
  private readonly pending = new Set<number>();
  private readonly queue = limiter(2);

  constructor(
    private readonly transport: Transport,
    private readonly features: FeatureState,
    private readonly toasts: Toasts,
  ) {}

  setView(view: 'grid' | 'table'): void {
    this.view = view;
    try {
      localStorage.setItem(VIEW_KEY, view);
    } catch {
      // storage disabled
    }
  }

  /** Thumbnails belong to one run: switching runs frees the old ones. */
  use(batch: BatchId | null): void {
    if (batch === this.batch) return;
    for (const url of this.thumbs.values()) if (url) URL.revokeObjectURL(url);
    this.thumbs.clear();
    this.pending.clear();
    this.batch = batch;
  }

  thumb(index: number): void {
    const batch = this.batch;
    if (!batch || this.thumbs.has(index) || this.pending.has(index)) return;
    this.pending.add(index);
    void this.queue(async () => {
      if (batch !== this.batch) return;
      try {
        const value = await this.transport.api.call('results.thumbnail', { batch, index, size: GALLERY_THUMB });
        if (batch === this.batch) this.thumbs.set(index, jpegUrl(value.jpeg));
      } catch {
        if (batch === this.batch) this.thumbs.set(index, null);
      } finally {
        this.pending.delete(index);
      }
    });
  }

  /** Opens a batch result in the feature view (and from there its explanations). */
  async open(batch: BatchId, index: number, row: BatchRow): Promise<void> {
    try {
      const { image, name } = await this.transport.api.call('results.open', { batch, index });
      const thumb = this.batch === batch ? (this.thumbs.get(index) ?? undefined) : undefined;
      const card: Card = { key: -(index + 1), name, image, phase: 'done', top: row.top, ms: row.ms, ep: row.ep, ...(thumb ? { thumb } : {}) };
      this.features.open(card);
    } catch (error) {
      const e = toErrorValue(error);
      this.toasts.push('error', 'Could not open the photo', `${e.code}: ${e.message}`);
    }
  }

  /** The desktop app's "Show in folder" (the host resolves the run's row itself; absent in the browser). */
  get canReveal(): boolean {
    return typeof this.transport.host.showResult === 'function';
  }

  async reveal(batch: BatchId, index: number): Promise<void> {
    try {
      await this.transport.host.showResult?.(batch, index);
    } catch (error) {
      const e = toErrorValue(error);
      this.toasts.push('error', 'Could not show the file', `${e.code}: ${e.message}`);
    }
  }
}

function loadView(): 'grid' | 'table' {
  try {
    // The table by default: dense, sortable, and what the Batch view showed before the gallery.
    return localStorage.getItem(VIEW_KEY) === 'grid' ? 'grid' : 'table';
  } catch {
    return 'table';
  }
}
