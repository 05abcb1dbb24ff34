// The cards: files the user dropped or chose, each uploaded (browser) or granted (desktop), then
// thumbnailed and classified by the engine. Work is queued with small concurrency so the first
// results appear at once and many files never flood the engine.
import type { ClassScore, ClassifyTimingsValue, ErrorValue, ImageId, KeptImageValue } from '../../../src-main/api/contract.js';
import { isFileError } from '../../../src-main/api/vocabulary.js';
import { type Transport, toErrorValue } from '../transport/index.js';
import { jpegUrl } from '../util/format.js';
import { limiter } from '../util/queue.js';

export type CardPhase = 'uploading' | 'classifying' | 'done' | 'error';

export interface Card {
  key: number;
  name: string;
  image?: ImageId;
  phase: CardPhase;
  thumb?: string;
  thumbFailed?: boolean;
  top?: ClassScore[];
  ms?: number;
  /** Waiting for the model, decoding and inference apart (engines that report them). */
  timings?: ClassifyTimingsValue;
  ep?: string;
  model?: string;
  error?: ErrorValue;
  /** Shown again from the kept Images session (issue 15). */
  restored?: boolean;
}

const THUMB_SIZE = 384;
const CLASSIFY_GROUP = 4;

export class ImagesState {
  cards = $state<Card[]>([]);
  private nextKey = 1;
  private readonly upload = limiter(3);
  private readonly thumbnail = limiter(2);
  private classifyQueue: Card[] = [];
  private classifying = 0;
  private modelName = () => '';

  constructor(private readonly transport: Transport) {}

  setModelName(get: () => string): void {
    this.modelName = get;
  }

  get counts(): { total: number; done: number; failed: number; pending: number } {
    let done = 0;
    let failed = 0;
    for (const c of this.cards) {
      if (c.phase === 'done') done++;
      else if (c.phase === 'error') failed++;
    }
    return { total: this.cards.length, done, failed, pending: this.cards.length - done - failed };
  }

  /** Files from a drop or the file input. */
  addFiles(files: File[]): void {
    for (const file of files) {
      const card = this.newCard(file.name, 'uploading');
      void this.upload(async () => {
        try {
          const [added] = await this.transport.host.addFiles([file]);
          if (!added) throw new Error('the host did not accept the file');
          card.image = added.image;
          card.name = added.name;
          this.startWork(card);
        } catch (error) {
          card.phase = 'error';
          card.error = toErrorValue(error);
          card.thumbFailed = true;
        }
      });
    }
  }

  /** Images the host already granted (the desktop app's File ▸ Open). */
  addGranted(images: { image: ImageId; name: string }[]): void {
    for (const { image, name } of images) {
      const card = this.newCard(name, 'classifying');
      card.image = image;
      this.startWork(card);
    }
  }

  /**
   * The kept Images session (a reload or restart): cards come back with their results; a photo that is
   * no longer open (an upload of an earlier server run, a file from an earlier app run) says so.
   */
  async restore(): Promise<void> {
    let kept: { cards: KeptImageValue[] };
    try {
      kept = await this.transport.api.call('sessions.images', {});
    } catch {
      return; // an engine without kept sessions
    }
    if (this.cards.length > 0) return; // the user already dropped new photos
    for (const k of kept.cards) {
      const card = this.newCard(k.name, 'done');
      card.restored = true;
      card.model = k.model;
      if (k.image && !('error' in k.result)) {
        card.image = k.image;
        card.top = k.result.top;
        card.ms = k.result.ms;
        card.ep = k.result.ep;
        void this.thumbnail(async () => {
          try {
            card.thumb = jpegUrl((await this.transport.api.call('images.thumbnail', { image: k.image as ImageId, size: THUMB_SIZE })).jpeg);
          } catch {
            card.thumbFailed = true;
          }
        });
      } else {
        card.phase = 'error';
        card.thumbFailed = true;
        const was =
          'error' in k.result
            ? `it failed: ${k.result.error.message}`
            : `it was ${k.result.top[0]?.label ?? '?'} (${Math.round((k.result.top[0]?.prob ?? 0) * 100)}%)`;
        card.error =
          'error' in k.result && k.image
            ? k.result.error
            : { code: 'NOT_OPEN', message: `kept from an earlier session (${was}); the photo itself is no longer open: drop it again to see its feature maps` };
      }
    }
  }

  clear(): void {
    void this.transport.api.call('sessions.clearImages', {}).catch(() => undefined);
    for (const card of this.cards) if (card.thumb) URL.revokeObjectURL(card.thumb);
    this.transport.host.releaseImages?.(this.cards.flatMap((card) => (card.image ? [card.image] : [])));
    this.cards = [];
    this.classifyQueue = [];
  }

  find(key: number): Card | undefined {
    return this.cards.find((c) => c.key === key);
  }

  /** A card that failed for a reason other than its file (the engine was unreachable): classify it again. */
  retry(card: Card): void {
    if (!card.image || card.phase !== 'error' || (card.error && isFileError(card.error.code))) return;
    card.phase = 'classifying';
    card.error = undefined;
    this.enqueueClassify(card);
    if (!card.thumb) {
      card.thumbFailed = false;
      this.loadThumb(card);
    }
  }

  /** After a model switch: classify everything again with the new model. */
  reclassifyAll(): void {
    for (const card of this.cards) {
      if (!card.image || card.phase === 'uploading' || card.phase === 'classifying') continue;
      if (card.error && isFileError(card.error.code)) continue; // the file is the problem, not the model
      card.phase = 'classifying';
      card.error = undefined;
      this.enqueueClassify(card);
    }
  }

  private newCard(name: string, phase: CardPhase): Card {
    this.cards.push({ key: this.nextKey++, name, phase });
    return this.cards[this.cards.length - 1]; // the reactive proxy
  }

  private startWork(card: Card): void {
    card.phase = 'classifying';
    this.enqueueClassify(card);
    this.loadThumb(card);
  }

  private loadThumb(card: Card): void {
    void this.thumbnail(async () => {
      if (!card.image) return;
      try {
        const thumb = await this.transport.api.call('images.thumbnail', { image: card.image, size: THUMB_SIZE });
        card.thumb = jpegUrl(thumb.jpeg);
      } catch {
        card.thumbFailed = true;
      }
    });
  }

  private enqueueClassify(card: Card): void {
    this.classifyQueue.push(card);
    this.pump();
  }

  private pump(): void {
    // Two requests in flight keep the engine busy (one preprocesses while the other runs).
    while (this.classifying < 2 && this.classifyQueue.length > 0) {
      const group = this.classifyQueue.splice(0, CLASSIFY_GROUP);
      this.classifying++;
      void this.classify(group).finally(() => {
        this.classifying--;
        this.pump();
      });
    }
  }

  private async classify(group: Card[]): Promise<void> {
    const live = group.filter((c) => c.image && this.cards.includes(c));
    if (live.length === 0) return;
    try {
      const results = await this.transport.api.call('images.classify', { images: live.map((c) => c.image as ImageId), top: 5 });
      const model = this.modelName();
      for (const result of results) {
        const card = live.find((c) => c.image === result.image);
        if (!card) continue;
        if ('error' in result.result) {
          card.phase = 'error';
          card.error = result.result.error;
        } else {
          card.phase = 'done';
          card.top = result.result.top;
          card.ms = result.result.ms;
          card.timings = result.result.timings;
          card.ep = result.result.ep;
          card.model = model;
        }
      }
    } catch (error) {
      const e = toErrorValue(error);
      for (const card of live) {
        card.phase = 'error';
        card.error = e;
      }
    }
  }
}
