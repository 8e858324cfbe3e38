import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runAdvise } from '../src/advise.js';
import { buildNodes } from '../src/cluster.js';
import { perSenderPolicy } from '../src/pacing-policy.js';
import { resolveStormParams } from '../src/storm-params.js';
import { stepsArb } from './arbitraries.js';

describe('advise', () => {
  it('per-sender policy: the receiver with the most senders per accept sets the rate; the sender with the most users the time', () => {
    const flows = [
      { from: 'a', to: 'x', users: 100 },
      { from: 'b', to: 'x', users: 50 },
      { from: 'c', to: 'x', users: 10 },
      { from: 'a', to: 'y', users: 400 },
    ];
    const budget = (id: string) => (id === 'x' ? { perSec: 900, bank: 90 } : { perSec: 100, bank: 10 });
    // x: 3 senders, 300/s each; y: 1 sender at 100/s: y is tighter.
    expect(perSenderPolicy.pace({ flows }, budget)).toEqual({ ratePerSec: 100, burst: 10, needsAcceptBurstMs: null, limitingReceiver: 'y', senders: 1, maxSenders: 3 });
    // Three senders, a bank of two: even a burst of 1 each needs a bank of three frames, 4 ms at 900/s (rounded up).
    expect(perSenderPolicy.pace({ flows }, (id) => (id === 'x' ? { perSec: 900, bank: 2 } : { perSec: 1000, bank: 100 }))?.needsAcceptBurstMs).toBe(4);
    const p = resolveStormParams({ jitterMs: 0, rttMs: 0, tickMs: 10 });
    // a has 500 users: (500 - 10) / 100 s, plus one tick.
    expect(perSenderPolicy.estimateMs({ flows }, { ratePerSec: 100, burst: 10 }, p)).toBe(4910);
    expect(perSenderPolicy.pace({ flows: [] }, budget)).toBeNull();
  });

  it('at the advised pacing no receiver is pushed past its accept rate, step by step and for the whole change (property, fixed seed)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 8 }).chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 1, max: 3000 }), stepsArb(n))),
        fc.record({
          acceptPerSec: fc.integer({ min: 20, max: 3000 }),
          acceptBurstMs: fc.integer({ min: 0, max: 500 }),
          jitterMs: fc.integer({ min: 0, max: 1000 }),
          rttMs: fc.integer({ min: 0, max: 100 }),
          tickMs: fc.constantFrom(10, 20, 50),
          seed: fc.nat(),
        }),
        fc.integer({ min: 0, max: 50 }),
        async ([nodes, users, steps], p, headroomPct) => {
          const params = resolveStormParams({ ...p, ratePerSec: 100_000, burst: 1000 });
          const report = await runAdvise({ cluster: { nodes: buildNodes(nodes), algorithm: 'ring', ringSeed: 0, users: { kind: 'synthetic', count: users } }, steps }, params, { headroomPct });
          // A crash is not paced: its users spread only over the client backoff, in expectation within the accept
          // rate, with random clumps; the guarantee is for the paced steps.
          for (const s of report.steps) {
            if (s.departure === 'crash') continue;
            expect(s.simulated.overloadSeconds, s.label).toBe(0);
            expect(s.simulated.refused, s.label).toBe(0);
            expect(s.simulated.settleMs, s.label).not.toBeNull();
            if (s.ratePerSec !== null) expect(s.senders * s.ratePerSec).toBeLessThanOrEqual(s.receiverAcceptPerSec * (1 - headroomPct / 100) + 1e-9);
          }
          if (report.steps.some((s) => s.departure === 'crash')) return;
          expect(report.fleetWide.overloadSeconds).toBe(0);
          expect(report.fleetWide.refused).toBe(0);
          expect(report.fleetWide.settleMs).not.toBeNull();
        },
      ),
      { numRuns: 40, seed: 15_2026 },
    );
  });
});
