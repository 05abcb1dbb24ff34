// Serialises inference runs on one session and lets interactive work overtake background work:
// an image dropped during a 10,000-photo batch waits for at most the batch's current run.

export type RunPriority = 'interactive' | 'background';

export class InferenceGate {
  private busy = false;
  private readonly waiting: Record<RunPriority, (() => void)[]> = { interactive: [], background: [] };

  async run<T>(priority: RunPriority, work: () => Promise<T>): Promise<T> {
    if (this.busy) await new Promise<void>((resolve) => this.waiting[priority].push(resolve));
    this.busy = true;
    try {
      return await work();
    } finally {
      const next = this.waiting.interactive.shift() ?? this.waiting.background.shift();
      if (next) next(); // hand over directly: busy stays true
      else this.busy = false;
    }
  }

  get queued(): number {
    return this.waiting.interactive.length + this.waiting.background.length;
  }
}
