// Items (images, bytes) per second over a sliding window, and the time left at that rate. The window makes the
// rate follow changes (a folder of large photos after a folder of small ones) without jumping with
// every batch; time spent paused is not counted.

export class RateMeter {
  private samples: { t: number; n: number }[] = [];
  private count = 0;

  constructor(
    private readonly windowMs = 15_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Records `n` more items finished now. */
  add(n: number): void {
    this.count += n;
    const t = this.now();
    this.samples.push({ t, n: this.count });
    // Keep one sample older than the window as the window's start.
    while (this.samples.length > 2 && this.samples[1].t <= t - this.windowMs) this.samples.shift();
  }

  /** Forget timing (after a pause): the next rate starts from here. */
  restart(): void {
    this.samples = [{ t: this.now(), n: this.count }];
  }

  /** Items per second, 0 until two samples exist. */
  rate(): number {
    if (this.samples.length < 2) return 0;
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    const seconds = (last.t - first.t) / 1000;
    return seconds > 0 ? (last.n - first.n) / seconds : 0;
  }

  /** Seconds left for `remaining` items, or null when no rate is known yet. */
  eta(remaining: number): number | null {
    const rate = this.rate();
    if (remaining <= 0) return 0;
    return rate > 0 ? remaining / rate : null;
  }
}
