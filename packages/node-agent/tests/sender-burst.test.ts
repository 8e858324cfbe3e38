// A sender's bucket depth when the operator gives none: 250 ms of its ceiling, whatever the ceiling.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DEFAULTS, resolveOptions, senderBurst } from '../src/options.js';
import { CATCH_UP_MS } from '../src/admission-gate.js';

describe('sender burst', () => {
  it('is CATCH_UP_MS of the ceiling (at least one frame), and 250 at the default ceiling', () => {
    expect(senderBurst(DEFAULTS.pacing.ratePerSec)).toBe(DEFAULTS.pacing.burst);
    fc.assert(
      fc.property(fc.double({ min: 0.01, max: 1e6, noNaN: true }), (rate) => {
        const burst = senderBurst(rate);
        expect(Number.isInteger(burst) && burst >= 1).toBe(true);
        expect(burst).toBeGreaterThanOrEqual((rate * CATCH_UP_MS) / 1000);
        expect(burst).toBeLessThan(Math.max(1, (rate * CATCH_UP_MS) / 1000) + 1);
      }),
      { seed: 9, numRuns: 500 },
    );
  });

  it('follows the ceiling when not given; a given burst wins', () => {
    expect(resolveOptions({ id: 'n1', membership: undefined as never }).pacing.burst).toBe(250);
    expect(resolveOptions({ id: 'n1', membership: undefined as never, pacing: { ratePerSec: 4_000 } }).pacing.burst).toBe(1_000);
    expect(resolveOptions({ id: 'n1', membership: undefined as never, pacing: { ratePerSec: 100 } }).pacing.burst).toBe(25);
    expect(resolveOptions({ id: 'n1', membership: undefined as never, pacing: { ratePerSec: 100, burst: 20 } }).pacing.burst).toBe(20);
  });
});
