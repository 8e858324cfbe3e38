// The coalescing behind a connection's first stream read: shared among callers, never older than the call.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Coalesced } from '../src/delivery/coalesce.js';

describe('Coalesced', () => {
  it('gives every caller a run that started after it asked, with at most one run in flight', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(3), { minLength: 1, maxLength: 40 }), async (waits) => {
        let started = 0;
        let inFlight = 0;
        let maxInFlight = 0;
        const c = new Coalesced(async () => {
          const run = ++started;
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          await new Promise((r) => setTimeout(r, 1));
          inFlight--;
          return run;
        });
        const calls: Promise<void>[] = [];
        for (const wait of waits) {
          // Runs started before this call: its result must come from a later one.
          const before = started;
          calls.push(c.next().then((run) => expect(run).toBeGreaterThan(before)));
          for (let i = 0; i < wait; i++) await Promise.resolve();
          if (wait === 3) await new Promise((r) => setTimeout(r, 2));
        }
        await Promise.all(calls);
        expect(maxInFlight).toBe(1);
        expect(started).toBeLessThanOrEqual(waits.length);
      }),
      { seed: 11, numRuns: 100 },
    );
  });

  it('passes a failure to the callers of that run only', async () => {
    let n = 0;
    const c = new Coalesced(async () => {
      if (++n === 1) throw new Error('first fails');
      return n;
    });
    await expect(c.next()).rejects.toThrow('first fails');
    await expect(c.next()).resolves.toBe(2);
  });
});
