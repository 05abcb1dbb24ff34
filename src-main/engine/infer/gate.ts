// Serialises inference runs on one session and lets interactive work overtake background work:
// an image dropped during a 10,000-photo batch waits for at most the batch's current run.
//
// The priority lane: an interactive request reserves the gate as soon as it arrives, before its
// photo is decoded. onnxruntime-node's run() blocks the JS thread, so the request is only read
// after the batch's current run; without the reservation the batch's next run (already decoded)
// would take the gate again while the photo is still decoding, and the photo would wait for a
// second run (issue 15: 4.25 s instead of ~one inference). While a reservation is held, background
// runs wait; interactive runs go. A reservation expires by itself (a request that never runs must
// not stall a batch).

export type RunPriority = 'interactive' | 'background';

/** Longest a reservation holds background work back: decoding one large photo takes well under this. */
export const RESERVATION_MAX_MS = 5000;

export class InferenceGate {
  private busy = false;
  private readonly waiting: Record<RunPriority, (() => void)[]> = { interactive: [], background: [] };
  private reservations = 0;

  async run<T>(priority: RunPriority, work: () => Promise<T>): Promise<T> {
    if (this.busy || (priority === 'background' && this.reservations > 0)) await new Promise<void>((resolve) => this.waiting[priority].push(resolve));
    this.busy = true;
    try {
      return await work();
    } finally {
      this.busy = false;
      this.next();
    }
  }

  /**
   * Holds background runs back until `release` (or RESERVATION_MAX_MS): call it when an interactive
   * request arrives, release it once the request's runs are done. Idempotent release.
   */
  reserve(maxMs = RESERVATION_MAX_MS): () => void {
    this.reservations++;
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      clearTimeout(timer);
      this.reservations--;
      this.next();
    };
    const timer = setTimeout(release, maxMs);
    timer.unref?.();
    return release;
  }

  /** Hands the idle gate over directly: interactive first, background only without reservations. */
  private next(): void {
    if (this.busy) return;
    const next = this.waiting.interactive.shift() ?? (this.reservations === 0 ? this.waiting.background.shift() : undefined);
    if (next) {
      this.busy = true; // taken for the waiter now, so nothing else slips in before it resumes
      next();
    }
  }

  get queued(): number {
    return this.waiting.interactive.length + this.waiting.background.length;
  }
}
