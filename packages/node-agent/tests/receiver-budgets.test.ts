import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createRing, type NodeSpec } from '@wsring/ring';
import { Pacer, laneBurst, receiverShares } from '../src/internal.js';
import { ManualClock } from '../../../test/support/manual-clock.js';
import { worstExcess } from '../../../test/support/rate-window.js';

function seeded(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

const fleet = fc.record({
  algorithm: fc.constantFrom('ring' as const, 'maglev' as const, 'rendezvous' as const),
  nodes: fc.integer({ min: 2, max: 24 }),
  joins: fc.integer({ min: 0, max: 3 }),
  leaves: fc.integer({ min: 0, max: 2 }),
  acceptRates: fc.array(fc.integer({ min: 20, max: 2_000 }), { minLength: 30, maxLength: 30 }),
  senderCeiling: fc.integer({ min: 50, max: 5_000 }),
  // The sender's own bucket, from one frame to far deeper than any lane (the default is 250 ms of the ceiling).
  senderBurst: fc.constantFrom(1, 20, 250, 10_000),
  jitterMs: fc.integer({ min: 0, max: 500 }),
  seed: fc.integer(),
});

describe('receiver budgets', () => {
  it('whatever the number of senders, arrivals at every receiver stay within its accept rate (plus each sender\'s lane burst), completion about M/A (ratio reported)', async () => {
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
        const slack = new Map<string, number>();
        const moved = new Map<string, number>();
        for (const sender of before) {
          const shares = receiverShares(prev, next, sender, accept);
          const pacer = new Pacer({ ratePerSec: f.senderCeiling, burst: f.senderBurst, jitterMs: f.jitterMs, clock, random }, (_user, to) => {
            const list = arrivals.get(to) ?? [];
            list.push(clock.now());
            arrivals.set(to, list);
          }, (to) => shares.get(to) ?? 0);
          for (const [to, share] of shares) slack.set(to, (slack.get(to) ?? 0) + laneBurst(share));
          for (let u = 0; u < 1_500; u++) {
            const user = `user-${u}`;
            if (prev.owner(user) !== sender) continue;
            const to = next.owner(user);
            if (to === sender) continue;
            expect(shares.get(to)).toBeGreaterThan(0);
            pacer.enqueue(user, to);
            moved.set(to, (moved.get(to) ?? 0) + 1);
          }
        }
        clock.runUntil(10_000_000);
        for (const [to, times] of arrivals) {
          expect(times.length).toBe(moved.get(to));
          const sorted = [...times].sort((a, b) => a - b);
          expect(worstExcess(sorted, accept(to))).toBeLessThanOrEqual((slack.get(to) ?? 0) + 1e-9);
          if (sorted.length >= 50 && f.senderCeiling > 4 * accept(to)) ratios.push(sorted[sorted.length - 1] / ((sorted.length / accept(to)) * 1000 + f.jitterMs));
        }
      }),
      { seed: 9_001, numRuns: 40 },
    );
    ratios.sort((a, b) => a - b);
    const median = ratios[Math.floor(ratios.length / 2)];
    const p90 = ratios[Math.floor(ratios.length * 0.9)];
    console.log(`completion / (M/A + jitter) at the busiest receivers: median ${median?.toFixed(2)}, p90 ${p90?.toFixed(2)}, max ${ratios.at(-1)?.toFixed(2)} over ${ratios.length} receivers`);
  }, 120_000);
});

describe('shares over the senders of the diff', () => {
  it('a single sender (a drain) gets every receiver\'s whole accept rate (ring, rendezvous; maglev also reshuffles a little between the others)', async () => {
    for (const algorithm of ['ring', 'rendezvous'] as const) {
      const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
      const prev = await createRing(ids.map((id) => ({ id, weight: 1 })), { algorithm });
      const next = prev.withoutNodes(['c']);
      const shares = receiverShares(prev, next, 'c', () => 700);
      expect([...shares.keys()].sort()).toEqual(['a', 'b', 'd', 'e', 'f']);
      for (const share of shares.values()) expect(share).toBeCloseTo(700, 6);
      for (const other of ['a', 'b', 'd']) expect(receiverShares(prev, next, other, () => 700).size).toBe(0);
    }
  });

  it('a joiner\'s rate is split among the nodes that hand it keys, summing to its accept rate, about in proportion to what each hands', async () => {
    for (const algorithm of ['ring', 'maglev', 'rendezvous'] as const) {
      const prev = await createRing(['a', 'b', 'c', 'd'].map((id, i) => ({ id, weight: 1 + i })), { algorithm });
      const next = prev.withNodes([{ id: 'j', weight: 2 }]);
      const split = ['a', 'b', 'c', 'd'].map((s) => receiverShares(prev, next, s, () => 1_000).get('j') ?? 0);
      expect(split.reduce((x, y) => x + y, 0)).toBeCloseTo(1_000, 6);
      // Heavier nodes own more, so hand more: the shares follow the weights within sampling noise.
      for (let i = 0; i < 4; i++) expect(split[i] / 1_000).toBeGreaterThan(((1 + i) / 10) * 0.7);
    }
  });
});
