// The engine's priority lane (engine/infer/gate.ts): interactive runs overtake queued background
// runs, and a reservation taken when an interactive request arrives keeps a busy batch from taking
// the model again while the photo is still decoding.
import { describe, expect, it } from 'vitest';
import { InferenceGate } from '../../src-main/engine/infer/gate.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A batch that keeps the gate busy with back-to-back background runs of `runMs` until stopped. */
function backgroundBatch(gate: InferenceGate, runMs: number, log: string[]) {
  let stopped = false;
  let runs = 0;
  const done = (async () => {
    while (!stopped) {
      await gate.run('background', async () => {
        log.push(`bg${runs}:start`);
        await sleep(runMs);
        log.push(`bg${runs++}:end`);
      });
      // The batch's next images are already decoded: it asks again at once.
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

/** An interactive request: arrives, decodes for `decodeMs`, then runs for `runMs`; resolves with its latency. */
async function interactiveRequest(gate: InferenceGate, decodeMs: number, runMs: number, reserve: boolean, log: string[]): Promise<number> {
  const arrived = performance.now();
  const release = reserve ? gate.reserve() : () => undefined;
  try {
    await sleep(decodeMs);
    await gate.run('interactive', async () => {
      log.push('photo:start');
      await sleep(runMs);
      log.push('photo:end');
    });
  } finally {
    release();
  }
  return performance.now() - arrived;
}

describe('inference gate (priority lane)', () => {
  it('runs one at a time, interactive work before queued background work', async () => {
    const gate = new InferenceGate();
    const order: string[] = [];
    const first = gate.run('background', async () => {
      await sleep(30);
      order.push('bg1');
    });
    const bg2 = gate.run('background', async () => void order.push('bg2'));
    const ui = gate.run('interactive', async () => void order.push('ui'));
    expect(gate.queued).toBe(2);
    await Promise.all([first, bg2, ui]);
    expect(order).toEqual(['bg1', 'ui', 'bg2']);
  });

  it('a reservation holds background runs back while interactive runs go, until released', async () => {
    const gate = new InferenceGate();
    const order: string[] = [];
    const release = gate.reserve();
    const bg = gate.run('background', async () => void order.push('bg'));
    await sleep(30);
    expect(order).toEqual([]); // the gate is idle, yet the batch waits for the photo
    await gate.run('interactive', async () => void order.push('ui'));
    expect(order).toEqual(['ui']);
    release();
    release(); // idempotent
    await bg;
    expect(order).toEqual(['ui', 'bg']);
  });

  it('a reservation that is never released expires, so a batch cannot stall', async () => {
    const gate = new InferenceGate();
    gate.reserve(60);
    const started = performance.now();
    await gate.run('background', async () => undefined);
    expect(performance.now() - started).toBeGreaterThanOrEqual(55);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('a photo dropped during a batch waits for at most the run in progress (with the reservation), not two', async () => {
    const RUN = 120;
    const DECODE = 80;
    const OWN = 30;
    const measure = async (reserve: boolean) => {
      const gate = new InferenceGate();
      const log: string[] = [];
      const batch = backgroundBatch(gate, RUN, log);
      await sleep(RUN / 2); // dropped mid-run
      const latency = await interactiveRequest(gate, DECODE, OWN, reserve, log);
      await batch.stop();
      // Background runs that started between the photo's arrival and its own run.
      const startedBetween = log.slice(log.indexOf('bg0:end'), log.indexOf('photo:start')).filter((l) => l.endsWith(':start')).length;
      return { latency, startedBetween };
    };
    const withLane = await measure(true);
    const withoutLane = await measure(false);
    // With the lane: the rest of the current run (≤ RUN), then the photo's own run; no batch run in between.
    expect(withLane.startedBetween).toBe(0);
    expect(withLane.latency).toBeLessThan(RUN + DECODE + OWN + 60);
    // Without it the batch's next run slips in while the photo decodes: the photo waits for it too.
    expect(withoutLane.startedBetween).toBe(1);
    expect(withoutLane.latency).toBeGreaterThan(withLane.latency);
  });
});
