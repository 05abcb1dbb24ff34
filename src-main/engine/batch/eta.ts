// Time left that users can trust. The raw "remaining / current rate" jumps with every batch and is
// wildly off at the start: the first batches pay the model's warm-up, the worker pool's start and
// the decode queue filling (issue 15: "8 min 23 s" shown for a 50 s batch). So:
//  - nothing is shown until the rate has settled: at least `minSeconds` of work and `minItems`
//    results, and the last few smoothed rates agree within `settleSpread`;
//  - the rate is an exponentially weighted moving average (time-based, so the smoothing does not
//    depend on how often results arrive) that skips the first interval (warm-up) entirely.

/** The rate's first value is the average over this long after the warm-up. */
const SEED_MS = 1000;

export interface EtaOptions {
  /** Seconds of work before any estimate (the start is dominated by warm-up). */
  minSeconds?: number;
  /** Results before any estimate. */
  minItems?: number;
  /** Time constant of the rate's EWMA, in seconds. */
  tauSeconds?: number;
  /** The settled test: the last `settleSamples` rates lie within ±this fraction of their mean. */
  settleSpread?: number;
  settleSamples?: number;
  now?: () => number;
}

export class EtaSmoother {
  private readonly minSeconds: number;
  private readonly minItems: number;
  private readonly tauMs: number;
  private readonly settleSpread: number;
  private readonly settleSamples: number;
  private readonly now: () => number;
  private startedAt: number;
  private lastAt: number;
  private items = 0;
  private ewma: number | undefined;
  private recent: number[] = [];
  private settled = false;
  private pendingItems = 0;
  private firstSampleSeen = false;
  private seedAt = 0;
  private seedItems = 0;

  constructor(options: EtaOptions = {}) {
    this.minSeconds = options.minSeconds ?? 3;
    this.minItems = options.minItems ?? 8;
    this.tauMs = (options.tauSeconds ?? 5) * 1000;
    this.settleSpread = options.settleSpread ?? 0.35;
    this.settleSamples = options.settleSamples ?? 3;
    this.now = options.now ?? (() => performance.now());
    this.startedAt = this.lastAt = this.now();
  }

  /** Forget timing (a start, a resume after a pause): the next estimate must settle again. */
  restart(): void {
    this.startedAt = this.lastAt = this.now();
    this.items = 0;
    this.ewma = undefined;
    this.recent = [];
    this.settled = false;
    this.pendingItems = 0;
    this.firstSampleSeen = false;
  }

  /** `n` more items finished now. */
  add(n: number): void {
    const t = this.now();
    const dt = t - this.lastAt;
    this.items += n;
    if (dt <= 0) {
      this.pendingItems += n; // results of the same instant are counted with the next sample
      return;
    }
    // The first interval also pays the warm-up: it seeds nothing.
    const pending = this.pendingItems + n;
    this.pendingItems = 0;
    const instant = (pending * 1000) / dt;
    this.lastAt = t;
    if (!this.firstSampleSeen) {
      this.firstSampleSeen = true;
      this.seedAt = t;
      this.seedItems = this.items;
      return;
    }
    if (this.ewma === undefined) {
      // Seeded by the average over the first second after the warm-up, never by one interval: results
      // come in bursts (a 300-image run showed "3 s" left for 20 s when one 2 ms burst seeded it).
      if (t - this.seedAt < SEED_MS) return;
      this.ewma = ((this.items - this.seedItems) * 1000) / (t - this.seedAt);
    } else {
      const alpha = 1 - Math.exp(-dt / this.tauMs);
      this.ewma += alpha * (instant - this.ewma);
    }
    this.recent.push(this.ewma);
    if (this.recent.length > this.settleSamples) this.recent.shift();
    if (!this.settled && this.recent.length >= this.settleSamples && t - this.startedAt >= this.minSeconds * 1000 && this.items >= this.minItems) {
      const mean = this.recent.reduce((s, r) => s + r, 0) / this.recent.length;
      this.settled = mean > 0 && this.recent.every((r) => Math.abs(r - mean) <= this.settleSpread * mean);
    }
  }

  /** The smoothed rate (items per second), 0 until known. */
  rate(): number {
    return this.ewma ?? 0;
  }

  /** Seconds left for `remaining` items; null until the rate has settled. */
  eta(remaining: number): number | null {
    if (remaining <= 0) return 0;
    if (!this.settled || !this.ewma) return null;
    return remaining / this.ewma;
  }
}
