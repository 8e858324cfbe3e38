import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ArrivalCounter } from '../src/arrivals.js';
import { ManualClock } from '../../../test/support/manual-clock.js';

describe('ArrivalCounter', () => {
  it('counts the last complete second and the peak one-second window of the last ten', () => {
    const clock = new ManualClock(1_000_000);
    const c = new ArrivalCounter(clock);
    c.add(5);
    expect(c.perSec).toBe(0);
    expect(c.peak).toBe(5);
    clock.advance(1_000);
    expect(c.perSec).toBe(5);
    c.add(2);
    clock.advance(1_000);
    expect(c.perSec).toBe(2);
    expect(c.peak).toBe(5);
    expect(c.total).toBe(7);
    clock.advance(20_000);
    expect([c.perSec, c.peak, c.total]).toEqual([0, 0, 7]);
  });

  it('finds a peak that straddles two whole seconds', () => {
    const clock = new ManualClock(0);
    const c = new ArrivalCounter(clock);
    clock.advance(600);
    c.add(400); // at 0.6 s
    clock.advance(800);
    c.add(400); // at 1.4 s: 800 within one second, though each whole second holds 400
    expect(c.peak).toBe(800);
  });

  it('peak equals the brute-force maximum over one-second windows of 100 ms buckets', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ gapMs: fc.integer({ min: 0, max: 700 }), n: fc.integer({ min: 1, max: 50 }) }), { maxLength: 80 }), (steps) => {
        const clock = new ManualClock(5_000);
        const c = new ArrivalCounter(clock);
        const events: { bucket: number; n: number }[] = [];
        for (const s of steps) {
          clock.advance(s.gapMs);
          c.add(s.n);
          events.push({ bucket: Math.floor(clock.now() / 100), n: s.n });
        }
        const now = Math.floor(clock.now() / 100);
        let best = 0;
        for (let end = now - 99; end <= now; end++) {
          const sum = events.filter((e) => e.bucket > end - 10 && e.bucket <= end && e.bucket > now - 100).reduce((x, e) => x + e.n, 0);
          best = Math.max(best, sum);
        }
        expect(c.peak).toBe(best);
        expect(c.total).toBe(steps.reduce((x, s) => x + s.n, 0));
      }),
      { seed: 9, numRuns: 300 },
    );
  });
});
