// One budget of decoded pixels for the whole process: the interactive path (classify, features,
// thumbnails) and the batch pipeline's worker threads draw on the same counter, so eight 144 MP PNGs
// in one request, or six requests at once, wait their turn instead of taking the process from 1 GB to
// 3.9 GB. A semaphore by pixel count over a SharedArrayBuffer: worker threads attach to the main
// thread's buffer (preprocess-pool passes it), Atomics keep it exact across threads, and waiters
// sleep on Atomics.waitAsync until a release bumps the generation.
//
// An image larger than the whole budget (allowed up to DEFAULT_MAX_PIXELS) decodes alone: it waits
// until nothing else is in flight.

/** Default budget: 300 MP in flight (about 0.9 GB of 8-bit RGB, ~1.5 GB with libvips' working copies). */
export const DEFAULT_PIXEL_BUDGET = 300_000_000;

const IN_USE = 0;
const GENERATION = 1;
const PEAK = 2;
const LIMIT = 3;
// Counts are kept in units of 16 pixels so that every budget up to 34 GP fits an Int32.
const UNIT = 16;

/** Atomics.waitAsync (Node ≥ 16; typed in lib es2024, newer than this project's target). */
type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
  timeoutMs: number,
) => { async: false; value: string } | { async: true; value: Promise<string> };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

let shared = new Int32Array(new SharedArrayBuffer(4 * Int32Array.BYTES_PER_ELEMENT));
Atomics.store(shared, LIMIT, Math.ceil(DEFAULT_PIXEL_BUDGET / UNIT));

/** The shared counter, for worker threads to attach to. */
export function pixelBudgetBuffer(): SharedArrayBuffer {
  return shared.buffer as SharedArrayBuffer;
}

/** In a worker thread: use the main thread's counter instead of this thread's own. */
export function attachPixelBudget(buffer: SharedArrayBuffer): void {
  shared = new Int32Array(buffer);
}

/** Sets the process-wide budget (pixels). */
export function setPixelBudget(pixels: number): void {
  Atomics.store(shared, LIMIT, Math.max(1, Math.ceil(pixels / UNIT)));
  wakeAll();
}

export function pixelBudgetStats(): { budget: number; inUse: number; peak: number } {
  return { budget: Atomics.load(shared, LIMIT) * UNIT, inUse: Atomics.load(shared, IN_USE) * UNIT, peak: Atomics.load(shared, PEAK) * UNIT };
}

export function resetPixelBudgetPeak(): void {
  Atomics.store(shared, PEAK, Atomics.load(shared, IN_USE));
}

function wakeAll(): void {
  Atomics.add(shared, GENERATION, 1);
  Atomics.notify(shared, GENERATION);
}

function tryTake(units: number): boolean {
  for (;;) {
    const current = Atomics.load(shared, IN_USE);
    const limit = Atomics.load(shared, LIMIT);
    if (current > 0 && current + units > limit) return false;
    if (Atomics.compareExchange(shared, IN_USE, current, current + units) === current) {
      for (let peak = Atomics.load(shared, PEAK); current + units > peak; peak = Atomics.load(shared, PEAK)) {
        if (Atomics.compareExchange(shared, PEAK, peak, current + units) === peak) break;
      }
      return true;
    }
  }
}

/**
 * Waits until `pixels` fit in the budget, takes them, and returns the release function (call it once
 * the decoded pixels are no longer held). `signal` gives up waiting.
 */
export async function acquirePixels(pixels: number, signal?: AbortSignal): Promise<() => void> {
  const units = Math.min(Math.max(1, Math.ceil(pixels / UNIT)), Atomics.load(shared, LIMIT));
  const counter = shared;
  while (!tryTake(units)) {
    if (signal?.aborted) throw signal.reason ?? new Error('aborted');
    const generation = Atomics.load(counter, GENERATION);
    if (tryTake(units)) break;
    // Sleep until a release (bounded, so a missed wake-up costs at most 50 ms).
    const wait = waitAsync(counter, GENERATION, generation, 50);
    if (wait.async) await wait.value;
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    Atomics.sub(counter, IN_USE, units);
    Atomics.add(counter, GENERATION, 1);
    Atomics.notify(counter, GENERATION);
  };
}
