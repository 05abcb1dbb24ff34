// A consumer that has stopped taking jobs while jobs wait: BullMQ's fetch loop parked on a blocking
// client that never recovered from a Redis restart (the failure bounded-close.ts guards closes
// against). Nothing errors then, so it is noticed from outside: jobs waiting, the consumer with room
// for one, and nothing taken for two checks in a row. The owner replaces its consumer.
//
// A healthy consumer with room takes a waiting job within milliseconds (BullMQ wakes it through a
// marker), so two checks `everyMs` apart that both find it idle with jobs waiting are not a race.

export interface StallWatchOptions {
  /** The queue the consumer takes from (only its waiting count is read). */
  queue: { getWaitingCount(): Promise<number> };
  /** True while the consumer could take another job (fewer in hand than its concurrency). */
  hasRoom: () => boolean;
  /** How often to check (the consumer is replaced after ≥ 2 × this without taking a job). */
  everyMs: number;
  onStall: (info: { waiting: number; idleSeconds: number }) => void | Promise<void>;
}

export class StallWatch {
  private lastTakenAt = performance.now();
  private strikes = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: StallWatchOptions) {}

  /** The consumer took a job: it is alive. */
  taken(): void {
    this.lastTakenAt = performance.now();
    this.strikes = 0;
  }

  start(): void {
    const next = (): void => {
      if (this.stopped) return;
      this.timer = setTimeout(() => void this.check().finally(next), this.options.everyMs);
      this.timer.unref(); // never what keeps a process alive
    };
    next();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** One check (the timer's; exposed for hosts that drive it themselves). */
  async check(): Promise<void> {
    const since = this.lastTakenAt;
    const idleMs = performance.now() - since;
    if (!this.options.hasRoom() || idleMs < this.options.everyMs) {
      this.strikes = 0;
      return;
    }
    // Redis unreachable: ioredis holds the command until it is back, which is not the consumer's fault.
    const waiting = await this.options.queue.getWaitingCount().catch(() => 0);
    if (this.stopped || waiting === 0 || !this.options.hasRoom() || this.lastTakenAt !== since) {
      this.strikes = 0;
      return;
    }
    if (++this.strikes < 2) return;
    this.strikes = 0;
    this.lastTakenAt = performance.now(); // the new consumer gets its own time
    await this.options.onStall({ waiting, idleSeconds: Math.round(idleMs / 100) / 10 });
  }
}
