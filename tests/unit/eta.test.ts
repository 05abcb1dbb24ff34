// The time-left smoother (engine/batch/eta.ts) on the timings that misled users: a slow warm-up
// followed by a steady rate must not produce a long first estimate, and jitter must not make the
// estimate jump.
import { describe, expect, it } from 'vitest';
import { EtaSmoother } from '../../src-main/engine/batch/eta.js';
import { RateMeter } from '../../src-main/engine/core/rate.js';

/** Drives a smoother with a clock: `schedule` lists [msAfterPrevious, items] steps. */
function run(smoother: EtaSmoother, clock: { t: number }, schedule: [number, number][], total: number): (number | null)[] {
  let done = 0;
  const etas: (number | null)[] = [];
  for (const [dt, n] of schedule) {
    clock.t += dt;
    smoother.add(n);
    done += n;
    etas.push(smoother.eta(total - done));
  }
  return etas;
}

describe('time-left smoother', () => {
  it('shows nothing during the warm-up, then an estimate close to the truth for a 50 s batch', () => {
    const clock = { t: 0 };
    const smoother = new EtaSmoother({ now: () => clock.t });
    // 500 images at 10/s (batches of 8 every 0.8 s), after a first batch that took 6 s (model warm-up).
    const schedule: [number, number][] = [[6000, 8]];
    for (let i = 0; i < 61; i++) schedule.push([800, 8]);
    const etas = run(smoother, clock, schedule, 500);
    // No estimate from the warm-up alone (the old meter said ~6 min here).
    expect(etas[0]).toBeNull();
    expect(etas[1]).toBeNull();
    const first = etas.findIndex((e) => e !== null);
    expect(first).toBeGreaterThan(1);
    // Its first estimate is within 25 % of the real time left, and every later one too.
    for (let i = first; i < etas.length; i++) {
      const truth = (500 - 8 * (i + 1)) / 10;
      expect(Math.abs((etas[i] as number) - truth)).toBeLessThanOrEqual(Math.max(1, 0.25 * truth));
    }
  });

  it('the old raw meter gives the misleading first estimate this replaces', () => {
    const clock = { t: 0 };
    const meter = new RateMeter(15_000, () => clock.t);
    meter.restart();
    clock.t += 6000;
    meter.add(8);
    // 492 left at 8 per 6 s: over 6 minutes for what takes under a minute.
    expect(meter.eta(492)).toBeGreaterThan(360);
  });

  it('follows a real change of rate smoothly instead of jumping with each batch', () => {
    const clock = { t: 0 };
    const smoother = new EtaSmoother({ now: () => clock.t });
    // Jittery batches around 10/s: alternately 0.5 s and 1.1 s for 8 images.
    const schedule: [number, number][] = [];
    for (let i = 0; i < 40; i++) schedule.push([i % 2 ? 1100 : 500, 8]);
    const etas = run(smoother, clock, schedule, 2000).filter((e): e is number => e !== null);
    expect(etas.length).toBeGreaterThan(10);
    // Consecutive estimates differ by under 15 % although the instant rate swings by 2.2×.
    for (let i = 1; i < etas.length; i++) expect(Math.abs(etas[i] - etas[i - 1]) / etas[i - 1]).toBeLessThan(0.15);
  });

  it('is not fooled by results that arrive in bursts (several runs committed within milliseconds)', () => {
    const clock = { t: 0 };
    const smoother = new EtaSmoother({ now: () => clock.t });
    // 10 images/s on average, delivered as two 8-image batches 2 ms apart every 1.6 s.
    const schedule: [number, number][] = [[3000, 8]];
    for (let i = 0; i < 20; i++) schedule.push([1598, 8], [2, 8]);
    const etas = run(smoother, clock, schedule, 2000);
    const done = 8 + 16 * 20;
    const last = etas[etas.length - 1] as number;
    expect(last).not.toBeNull();
    // True time left: (2000 - 328) / 10 ≈ 167 s.
    expect(Math.abs(last - (2000 - done) / 10)).toBeLessThan(0.25 * ((2000 - done) / 10));
  });

  it('starts over after a restart (a resume): no estimate until the rate settles again', () => {
    const clock = { t: 0 };
    const smoother = new EtaSmoother({ now: () => clock.t });
    const schedule: [number, number][] = [];
    for (let i = 0; i < 20; i++) schedule.push([800, 8]);
    run(smoother, clock, schedule, 1000);
    expect(smoother.eta(100)).not.toBeNull();
    smoother.restart();
    expect(smoother.eta(100)).toBeNull();
    expect(smoother.eta(0)).toBe(0);
  });
});
