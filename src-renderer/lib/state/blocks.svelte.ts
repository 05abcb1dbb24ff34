// The block strip of one image: block norms and maps, and live lesions (blocks removed or scaled)
// with the top-5 of the lesioned network against the intact one. Latest request wins.
import type { BlocksValue, ImageId } from '../../../src-main/api/contract.js';
import { type Transport, toErrorValue } from '../transport/index.js';

export class BlockStripState {
  value = $state.raw<BlocksValue | null>(null);
  loading = $state(false);
  error = $state<{ code: string; message: string } | null>(null);
  /** Block id → scale of its residual branch (0 removed; absent = 1). */
  scales = $state<Record<string, number>>({});
  /** The block whose slider is shown. */
  selected = $state<string | null>(null);
  /** The block under the pointer (its heatmaps are shown). */
  hover = $state<string | null>(null);
  private image: ImageId | null = null;
  private request = 0;

  constructor(private readonly transport: Transport) {}

  open(image: ImageId): void {
    if (this.image === image) return;
    this.image = image;
    this.scales = {};
    this.selected = null;
    this.value = null;
    void this.load();
  }

  get lesioned(): string[] {
    return Object.entries(this.scales)
      .filter(([, s]) => s !== 1)
      .map(([id]) => id);
  }

  /** Click: remove the block's residual branch, or put it back. */
  toggle(id: string): void {
    this.selected = id;
    const next = { ...this.scales };
    if (next[id] === 0) delete next[id];
    else next[id] = 0;
    this.scales = next;
    void this.load();
  }

  setScale(id: string, scale: number): void {
    const next = { ...this.scales };
    if (scale === 1) delete next[id];
    else next[id] = scale;
    this.scales = next;
    void this.load();
  }

  reset(): void {
    this.scales = {};
    void this.load();
  }

  private async load(): Promise<void> {
    const image = this.image;
    if (!image) return;
    const request = ++this.request;
    this.loading = true;
    this.error = null;
    try {
      const scales = Object.keys(this.scales).length > 0 ? { ...this.scales } : undefined;
      const value = await this.transport.api.call('blocks.get', scales ? { image, scales } : { image });
      if (request === this.request) this.value = value;
    } catch (error) {
      if (request === this.request) this.error = toErrorValue(error);
    } finally {
      if (request === this.request) this.loading = false;
    }
  }
}
