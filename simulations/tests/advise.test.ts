import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runAdvise } from '../src/advise.js';
import { buildNodes } from '../src/cluster.js';
import { declaredRate, laneIntervalMs, perSenderPolicy, receiverBudgetPolicy } from '../src/pacing-policy.js';
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
    const p = resolveStormParams({ jitterMs: 0, rttMs: 0, tickMs: 10 });
    const budget = (id: string) => (id === 'x' ? { perSec: 900, bank: 90 } : { perSec: 100, bank: 10 });
    // x: 3 senders, 300/s each; y: 1 sender at 100/s: y is tighter.
    expect(perSenderPolicy.pace({ flows }, budget, p)).toEqual({ ratePerSec: 100, burst: 10, needsAcceptBurstMs: null, limitingReceiver: 'y', senders: 1, maxSenders: 3, receiverUsers: 400, acceptRates: null });
    // Three senders, a bank of two: even a burst of 1 each needs a bank of three frames, 4 ms at 900/s (rounded up).
    expect(perSenderPolicy.pace({ flows }, (id) => (id === 'x' ? { perSec: 900, bank: 2 } : { perSec: 1000, bank: 100 }), p)?.needsAcceptBurstMs).toBe(4);
    // a has 500 users: (500 - 10) / 100 s, plus one tick.
    expect(perSenderPolicy.estimateMs({ flows }, resolveStormParams(p, { ratePerSec: 100, burst: 10 }))).toBe(4910);
    expect(perSenderPolicy.pace({ flows: [] }, budget, p)).toBeNull();
  });

  it('receiver-budget policy: each receiver declares its budget less one per sender and the lanes\' 50 ms; the slowest receiver sets the time, the busiest sender the ceiling', () => {
    // Without rings the senders split a receiver's budget by the users they carry: a 2/3, b 1/3 of x; a all of y.
    const flows = [
      { from: 'a', to: 'x', users: 200 },
      { from: 'b', to: 'x', users: 100 },
      { from: 'a', to: 'y', users: 50 },
    ];
    const p = resolveStormParams({ jitterMs: 0, rttMs: 0, tickMs: 10, burst: 20 });
    const budget = (id: string) => (id === 'x' ? { perSec: 302, bank: 90 } : { perSec: 101, bank: 10 });
    const pacing = receiverBudgetPolicy.pace({ flows }, budget, p)!;
    // x: (302 - 2 senders) / 1.05 (each lane also saves up 50 ms of its share) = 285/s; y: (101 - 1) / 1.05 = 95/s.
    // x takes 300 users at 285/s, y 50 at 95/s: x is the slowest.
    expect(pacing.acceptRates).toEqual({ x: 285, y: 95 });
    expect(pacing).toMatchObject({ limitingReceiver: 'x', senders: 2, receiverUsers: 300, maxSenders: 2, burst: 20, needsAcceptBurstMs: null });
    // a sends to x at 190/s and to y at 95/s: a ceiling of 285/s holds neither lane back.
    expect(pacing.ratePerSec).toBe(285);
    // Lanes: a -> x at 190/s, its 10 saved-up tokens at once, 190 more at 1000/190 ms: 1,000 ms; b -> x at 95/s, 5 at
    // once, 95 more: 1,000 ms; a -> y 45 at 95/s. Plus a tick, in whole ticks.
    const at = resolveStormParams(p, { ratePerSec: 285, nodeAcceptRate: pacing.acceptRates! });
    expect(receiverBudgetPolicy.estimateMs({ flows }, at)).toBe(1010);
    // A bank of 3 frames cannot take a receiver's senders' first frames, 50 ms of lane burst and a tick (10 ms) of its
    // rate at once: y needs 1 + 101 x 0.06 = 7.06 frames, 70 ms of 101/s.
    expect(receiverBudgetPolicy.pace({ flows }, (id) => ({ ...budget(id), bank: 3 }), p)?.needsAcceptBurstMs).toBe(70);
    // A lane saves up what it earns while the pump sleeps: on average one frame every 1000 / share ms, at any share.
    expect(laneIntervalMs(600)).toBeCloseTo(1000 / 600, 9);
    expect(laneIntervalMs(1000)).toBe(1);
    expect(laneIntervalMs(5000)).toBe(0.2);
    // A receiver with more senders than half its budget takes half of it.
    expect(declaredRate(10, 7)).toBe(5);
    expect(receiverBudgetPolicy.pace({ flows: [] }, budget, p)).toBeNull();
  });

  it.each(['receiver-budget', 'per-sender'] as const)('%s: at the advised settings no receiver is pushed past its accept rate, step by step and for the whole change (property, fixed seed)', async (policy) => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 8 }).chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 1, max: 3000 }), stepsArb(n))),
        fc.record({
          // Receiver budgets: at least twice the most senders a receiver has here (8 nodes and 4 more), so that one
          // frame from each fits in half the budget and the construction holds (the advice says when it does not).
          acceptPerSec: fc.integer({ min: policy === 'receiver-budget' ? 50 : 20, max: 3000 }),
          acceptBurstMs: fc.integer({ min: 0, max: 500 }),
          jitterMs: fc.integer({ min: 0, max: 1000 }),
          rttMs: fc.integer({ min: 0, max: 100 }),
          tickMs: fc.constantFrom(10, 20, 50),
          seed: fc.nat(),
        }),
        fc.integer({ min: 0, max: 50 }),
        async ([nodes, users, steps], p, headroomPct) => {
          const params = resolveStormParams({ ...p, policy, ratePerSec: 100_000, burst: 1000, acceptRate: 100_000 });
          const report = await runAdvise({ cluster: { nodes: buildNodes(nodes), algorithm: 'ring', ringSeed: 0, users: { kind: 'synthetic', count: users } }, steps }, params, { headroomPct });
          expect(report.policy.name).toBe(policy);
          const keep = 1 - headroomPct / 100;
          // A crash is not paced: its users spread only over the client backoff, in expectation within the accept
          // rate, with random clumps; the guarantee is for the paced steps.
          for (const s of report.steps) {
            if (s.departure === 'crash') continue;
            const crowded = s.senders > (s.receiverAcceptPerSec * keep) / 2;
            if (!crowded) expect(s.simulated.overloadSeconds, s.label).toBe(0);
            expect(s.simulated.refused, s.label).toBe(0);
            expect(s.simulated.settleMs, s.label).not.toBeNull();
            if (s.ratePerSec === null) continue;
            if (policy === 'per-sender') expect(s.senders * s.ratePerSec).toBeLessThanOrEqual(s.receiverAcceptPerSec * keep + 1e-9);
            else if (!crowded) expect(s.acceptRate! + s.senders).toBeLessThanOrEqual(s.receiverAcceptPerSec * keep + 1e-9);
          }
          if (report.steps.some((s) => s.departure === 'crash')) return;
          if (policy === 'per-sender' || report.steps.every((s) => s.senders <= (s.receiverAcceptPerSec * keep) / 2)) expect(report.fleetWide.overloadSeconds).toBe(0);
          expect(report.fleetWide.refused).toBe(0);
          expect(report.fleetWide.settleMs).not.toBeNull();
        },
      ),
      { numRuns: 40, seed: 15_2026 },
    );
  });
});
