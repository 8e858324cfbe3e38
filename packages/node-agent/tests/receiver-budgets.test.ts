import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createRing, type NodeSpec } from '@wsring/ring';
import { Pacer, receiverShares } from '../src/internal.js';
import { ManualClock } from '../../../test/support/manual-clock.js';

function seeded(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

/** max over i <= j of (arrivals i..j) - rate * (t_j - t_i): the burst a window of any length saw beyond the rate. O(n). */
function worstExcess(sorted: readonly number[], ratePerSec: number): number {
  let best = -Infinity;
  let worst = -Infinity;
  for (let j = 0; j < sorted.length; j++) {
    best = Math.max(best, (ratePerSec * sorted[j]) / 1000 - j);
    worst = Math.max(worst, j + 1 - (ratePerSec * sorted[j]) / 1000 + best);
  }
  return worst;
}

const fleet = fc.record({
  algorithm: fc.constantFrom('ring' as const, 'maglev' as const, 'rendezvous' as const),
  nodes: fc.integer({ min: 2, max: 24 }),
  joins: fc.integer({ min: 0, max: 3 }),
  leaves: fc.integer({ min: 0, max: 2 }),
  acceptRates: fc.array(fc.integer({ min: 20, max: 2_000 }), { minLength: 30, maxLength: 30 }),
  senderCeiling: fc.integer({ min: 50, max: 5_000 }),
  jitterMs: fc.integer({ min: 0, max: 500 }),
  seed: fc.integer(),
});

describe('receiver budgets', () => {
  it('whatever the number of senders, arrivals at every receiver stay within its accept rate (plus one per sender), (completion against M/A is reported)', async () => {
    const ratios: number[] = [];
    await fc.assert(
      fc.asyncProperty(fleet, async (f) => {
        const ids = Array.from({ length: f.nodes + f.joins }, (_, i) => `n${i}`);
        const accept = (id: string) => f.acceptRates[Number(id.slice(1))];
        const spec = (id: string): NodeSpec => ({ id, weight: 1 + (Number(id.slice(1)) % 3) });
        const before = ids.slice(0, f.nodes);
        const after = [...before.slice(Math.min(f.leaves, f.nodes - 1)), ...ids.slice(f.nodes)];
        const prev = await createRing(before.map(spec), { algorithm: f.algorithm });
        const next = await createRing(after.map(spec), { algorithm: f.algorithm });
        const clock = new ManualClock();
        const random = seeded(f.seed);
        const arrivals = new Map<string, number[]>();
        const senders = new Map<string, Set<string>>();
        const moved = new Map<string, number>();
        for (const sender of before) {
          const shares = receiverShares(prev, next, sender, accept);
          const pacer = new Pacer({ ratePerSec: f.senderCeiling, burst: 20, jitterMs: f.jitterMs, clock, random }, (_user, to) => {
            const list = arrivals.get(to) ?? [];
            list.push(clock.now());
            arrivals.set(to, list);
          }, (to) => shares.get(to) ?? 0);
          for (let u = 0; u < 1_500; u++) {
            const user = `user-${u}`;
            if (prev.owner(user) !== sender) continue;
            const to = next.owner(user);
            if (to === sender) continue;
            expect(shares.get(to)).toBeGreaterThan(0);
            pacer.enqueue(user, to);
            (senders.get(to) ?? senders.set(to, new Set()).get(to)!).add(sender);
            moved.set(to, (moved.get(to) ?? 0) + 1);
          }
        }
        clock.runUntil(10_000_000);
        for (const [to, times] of arrivals) {
          expect(times.length).toBe(moved.get(to));
          const sorted = [...times].sort((a, b) => a - b);
          const slack = senders.get(to)!.size;
          expect(worstExcess(sorted, accept(to))).toBeLessThanOrEqual(slack + 1e-9);
          if (sorted.length >= 50 && f.senderCeiling > 4 * accept(to)) ratios.push(sorted[sorted.length - 1] / ((sorted.length / accept(to)) * 1000 + f.jitterMs));
        }
      }),
      { seed: 9_001, numRuns: 40 },
    );
    ratios.sort((a, b) => a - b);
    const median = ratios[Math.floor(ratios.length / 2)];
    console.log(`completion / (M/A + jitter) at the busiest receivers: median ${median?.toFixed(2)}, max ${ratios.at(-1)?.toFixed(2)} over ${ratios.length} receivers`);
  }, 120_000);
});
