// The two small synchronisation tools the batch pipeline needs on one event loop: a counting
// semaphore (bounds how many images are in flight, which is what keeps memory flat) and a wake-up
// signal (the inference loop sleeps until decoded images arrive, a timeout passes, or control changes).

export class Semaphore {
  private available: number;
  private readonly waiters: (() => void)[] = [];
  private closed = false;

  constructor(permits: number) {
    this.available = permits;
  }

  /** Waits for a permit; once closed, returns at once (the caller checks why it should stop). */
  async acquire(): Promise<void> {
    if (this.closed) return;
    if (this.available > 0) {
      this.available--;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.available++;
  }

  /** Wakes every waiter, and every later acquire, without permits (used when the job stops). */
  close(): void {
    this.closed = true;
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}

export class WakeSignal {
  private waiters: (() => void)[] = [];

  /** Resolves on the next notify(), or after `timeoutMs` when given. */
  wait(timeoutMs?: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        if (timer) clearTimeout(timer);
        resolve();
      };
      this.waiters.push(done);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== done);
          resolve();
        }, timeoutMs);
      }
    });
  }

  notify(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}
