import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF, backoffCeiling, backoffDelay } from '../src/backoff.js';

describe('backoff with full jitter', () => {
  it('draws every delay from [0, min(cap, base * 2^(attempt-1)))', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 5_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, baseMs, extra, r) => {
          const capMs = baseMs + extra;
          const delay = backoffDelay(attempt, baseMs, capMs, () => r);
          expect(Number.isInteger(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThan(Math.max(1, Math.min(capMs, baseMs * 2 ** Math.min(attempt - 1, 60))));
        },
      ),
      { seed: 7 },
    );
  });

  it('defaults to 250 ms doubling up to 30 s, a value nobody can change', () => {
    expect(DEFAULT_BACKOFF).toEqual({ baseMs: 250, capMs: 30_000 });
    expect(Object.isFrozen(DEFAULT_BACKOFF)).toBe(true);
  });

  it('doubles the ceiling per attempt up to the cap', () => {
    expect([1, 2, 3, 4, 8, 9, 1000].map((n) => backoffCeiling(n, 250, 30_000))).toEqual([250, 500, 1000, 2000, 30_000, 30_000, 30_000]);
  });

  it('spreads delays uniformly over the window (fixed seed)', () => {
    let state = 12345;
    const random = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const delays = Array.from({ length: 20_000 }, () => backoffDelay(5, 250, 30_000, random));
    const ceiling = backoffCeiling(5, 250, 30_000);
    const mean = delays.reduce((a, b) => a + b, 0) / delays.length;
    expect(Math.abs(mean - ceiling / 2) / ceiling).toBeLessThan(0.02);
    // Each tenth of the window holds about a tenth of the delays.
    const deciles = Array.from({ length: 10 }, (_, i) => delays.filter((d) => d >= (i * ceiling) / 10 && d < ((i + 1) * ceiling) / 10).length / delays.length);
    for (const share of deciles) expect(Math.abs(share - 0.1)).toBeLessThan(0.02);
  });
});
