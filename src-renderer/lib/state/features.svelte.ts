// The feature-map view of one image: stage heatmaps, top channels, class activation maps.
import type { FeaturesValue, HeatmapMode, HeatmapValue, StageName } from '../../../src-main/api/contract.js';
import type { ColormapName } from '../heatmap/colormaps.js';
import { type Transport, toErrorValue } from '../transport/index.js';
import type { Card } from './images.svelte.js';

export type Overlay = { kind: 'stage' } | { kind: 'channel'; channel: number; map: HeatmapValue } | { kind: 'cam'; rank: number };

const PREFS = 'reslens.features';

/** How the heatmap covers the photo: 'value' (default since issue 15) lets low values show the photo. */
export type Transparency = 'value' | 'uniform';

function loadPrefs(): { opacity: number; colormap: ColormapName; transparency: Transparency } {
  try {
    const saved = JSON.parse(localStorage.getItem(PREFS) ?? '{}') as { opacity?: unknown; colormap?: unknown; transparency?: unknown };
    return {
      opacity: typeof saved.opacity === 'number' && saved.opacity >= 0 && saved.opacity <= 1 ? saved.opacity : 0.8,
      colormap: ['viridis', 'inferno', 'jet', 'gray'].includes(saved.colormap as string) ? (saved.colormap as ColormapName) : 'inferno',
      transparency: saved.transparency === 'uniform' ? 'uniform' : 'value',
    };
  } catch {
    return { opacity: 0.8, colormap: 'inferno', transparency: 'value' };
  }
}

export class FeatureState {
  card = $state<Card | null>(null);
  /** The photo the user last opened here, kept after closing: the Model view's block strip measures it. */
  lastOpened = $state<Card | null>(null);
  value = $state.raw<FeaturesValue | null>(null);
  loading = $state(false);
  error = $state<{ code: string; message: string } | null>(null);
  stage = $state<StageName>('layer4');
  overlay = $state.raw<Overlay>({ kind: 'stage' });
  mode = $state<HeatmapMode>('mean');
  opacity = $state(0.6);
  colormap = $state<ColormapName>('inferno');
  transparency = $state<Transparency>('value');
  channelLoading = $state<number | null>(null);
  /** Residual blocks scaled or removed in the block strip: the maps and CAMs shown are that network's. */
  lesions = $state.raw<Record<string, number>>({});
  private request = 0;

  constructor(private readonly transport: Transport) {
    const prefs = loadPrefs();
    this.opacity = prefs.opacity;
    this.colormap = prefs.colormap;
    this.transparency = prefs.transparency;
  }

  savePrefs(): void {
    try {
      localStorage.setItem(PREFS, JSON.stringify({ opacity: this.opacity, colormap: this.colormap, transparency: this.transparency }));
    } catch {
      // private mode
    }
  }

  get stageValue() {
    return this.value?.stages.find((s) => s.name === this.stage) ?? null;
  }

  open(card: Card): void {
    this.lesions = {};
    this.card = card;
    this.lastOpened = card;
    this.value = null;
    this.overlay = { kind: 'stage' };
    void this.load();
  }

  /** Opens a photo at one stage (the Model table's rows). */
  openStage(card: Card, stage: StageName): void {
    this.open(card);
    this.stage = stage;
  }

  /** After an error (the engine was unreachable, a timeout): ask again for the same photo. */
  retry(): void {
    if (!this.card) return;
    this.error = null;
    if (Object.keys(this.lesions).length > 0 && this.value) void this.setLesions(this.lesions);
    else void this.load();
  }

  close(): void {
    this.card = null;
    this.value = null;
    this.error = null;
    this.request++;
  }

  /** From the block strip: stage maps, channels and CAMs of the network with these blocks scaled (the photo crop stays). */
  async setLesions(scales: Record<string, number>): Promise<void> {
    const had = Object.keys(this.lesions).length > 0;
    this.lesions = scales;
    const image = this.card?.image;
    const base = this.value;
    if (!image || !base) return;
    if (Object.keys(scales).length === 0) {
      if (had) void this.load();
      return;
    }
    const request = ++this.request;
    this.loading = true;
    try {
      const value = await this.transport.api.call('blocks.features', { image, scales, mode: this.mode, channels: 12, classes: 5 });
      if (request === this.request) this.value = { ...value, crop: base.crop };
    } catch (error) {
      if (request === this.request) this.error = toErrorValue(error);
    } finally {
      if (request === this.request) this.loading = false;
    }
  }

  setMode(mode: HeatmapMode): void {
    if (mode === this.mode) return;
    this.mode = mode;
    if (!this.card) return;
    // With blocks changed in the strip, the new heatmaps are that network's too.
    if (Object.keys(this.lesions).length > 0) void this.setLesions(this.lesions);
    else void this.load();
  }

  selectStage(stage: StageName): void {
    this.stage = stage;
    this.overlay = { kind: 'stage' };
  }

  showCam(rank: number): void {
    this.overlay = this.overlay.kind === 'cam' && this.overlay.rank === rank ? { kind: 'stage' } : { kind: 'cam', rank };
  }

  async showChannel(channel: number): Promise<void> {
    const image = this.card?.image;
    if (!image) return;
    if (this.overlay.kind === 'channel' && this.overlay.channel === channel) {
      this.overlay = { kind: 'stage' };
      return;
    }
    const request = this.request;
    this.channelLoading = channel;
    try {
      const map = await this.transport.api.call('features.channel', { image, stage: this.stage, channel });
      if (request === this.request) this.overlay = { kind: 'channel', channel, map };
    } catch (error) {
      if (request === this.request) this.error = toErrorValue(error);
    } finally {
      if (this.channelLoading === channel) this.channelLoading = null;
    }
  }

  private async load(): Promise<void> {
    const image = this.card?.image;
    if (!image) return;
    const request = ++this.request;
    this.loading = true;
    this.error = null;
    try {
      const value = await this.transport.api.call('features.get', { image, mode: this.mode, channels: 12, classes: 5 });
      if (request !== this.request) return;
      this.value = value;
      if (!value.stages.some((s) => s.name === this.stage) && value.stages.length > 0) this.stage = value.stages[value.stages.length - 1].name;
      this.overlay = { kind: 'stage' };
    } catch (error) {
      if (request === this.request) this.error = toErrorValue(error);
    } finally {
      if (request === this.request) this.loading = false;
    }
  }
}
