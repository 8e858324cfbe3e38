import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Pacer, TokenBucket, laneBurst } from '../src/internal.js';
import { ManualClock } from '../../../test/support/manual-clock.js';

/** Seeded uniform [0,1) so the jitter is reproducible. */
function seeded(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

describe('token bucket', () => {
  it('grants burst at once, then the rate', () => {
    const b = new TokenBucket(10, 3, 0);
    expect([b.tryTake(0), b.tryTake(0), b.tryTake(0), b.tryTake(0)]).toEqual([true, true, true, false]);
    expect(b.waitMs(0)).toBe(100);
    expect(b.tryTake(99)).toBe(false);
    expect(b.tryTake(100)).toBe(true);
  });
});

describe('pacer', () => {
  it('never exceeds burst + rate * window in any window, whatever the jitter, and sends every user once', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 500 }),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 0, max: 2_000 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3_000 }), fc.integer({ min: 1, max: 40 })), { minLength: 1, maxLength: 6 }),
        fc.integer(),
        (ratePerSec, burst, jitterMs, waves, seed) => {
          const clock = new ManualClock();
          const sent: { user: string; at: number }[] = [];
          const pacer = new Pacer({ ratePerSec, burst, jitterMs, clock, random: seeded(seed) }, (user) => sent.push({ user, at: clock.now() }), () => 1e9);
          let total = 0;
          const starts = [...waves].sort((a, b) => a[0] - b[0]);
          for (const [at, count] of starts) {
            clock.runUntil(at);
            for (let i = 0; i < count; i++) pacer.enqueue(`u${total++}`, 'r');
          }
          clock.runUntil(10_000_000);
          expect(sent.length).toBe(total);
          expect(new Set(sent.map((s) => s.user)).size).toBe(total);
          // Sends i..j (inclusive) fit in [t_i, t_j]: a token bucket allows at most burst + rate * (t_j - t_i).
          let worst = -Infinity;
          for (let i = 0; i < sent.length; i++) {
            for (let j = i; j < sent.length; j++) {
              worst = Math.max(worst, j - i + 1 - (burst + (ratePerSec * (sent[j].at - sent[i].at)) / 1000));
            }
          }
          expect(worst).toBeLessThanOrEqual(1e-9);
          expect(clock.pendingTimers).toBe(0);
        },
      ),
      { seed: 42, numRuns: 150 },
    );
  });

  it('does not send a cancelled user, nor a user twice, and reports when idle', () => {
    const clock = new ManualClock();
    const sent: string[] = [];
    const pacer = new Pacer({ ratePerSec: 10, burst: 1, jitterMs: 100, clock, random: () => 0.5 }, (u) => sent.push(u));
    for (const u of ['a', 'b', 'c', 'a']) pacer.enqueue(u, 'r');
    expect(pacer.pending).toBe(3);
    pacer.cancel('b');
    let idle = false;
    pacer.whenIdle(() => (idle = true));
    clock.runUntil(60_000);
    expect(sent.sort()).toEqual(['a', 'c']);
    expect(idle).toBe(true);
  });

  it('paces each receiver at its share (laneBurst tokens of burst) and all of them within the ceiling; a retargeted user goes once, to its latest target', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('r1', 'r2', 'r3'), fc.integer({ min: 0, max: 2_000 })), { minLength: 1, maxLength: 200 }),
        fc.record({ r1: fc.integer({ min: 1, max: 300 }), r2: fc.integer({ min: 1, max: 300 }), r3: fc.integer({ min: 1, max: 300 }) }),
        fc.integer({ min: 1, max: 1_000 }),
        fc.integer({ min: 0, max: 500 }),
        fc.integer(),
        (moves, shares, ceiling, jitterMs, seed) => {
          const clock = new ManualClock();
          const sent: { user: string; to: string; at: number }[] = [];
          const pacer = new Pacer({ ratePerSec: ceiling, burst: 5, jitterMs, clock, random: seeded(seed) }, (user, to) => sent.push({ user, to, at: clock.now() }), (to) => shares[to as 'r1']);
          const latest = new Map<string, string>();
          const ordered = moves.map(([to, at], i) => ({ user: `u${i % 150}`, to, at })).sort((a, b) => a.at - b.at);
          for (const m of ordered) {
            clock.runUntil(m.at);
            if (sent.some((s) => s.user === m.user)) continue;
            pacer.enqueue(m.user, m.to);
            latest.set(m.user, m.to);
          }
          clock.runUntil(100_000_000);
          expect(sent.length).toBe(latest.size);
          for (const s of sent) expect(s.to).toBe(latest.get(s.user));
          const bound = (list: { at: number }[], rate: number, burst: number) => {
            for (let i = 0; i < list.length; i++) for (let j = i; j < list.length; j++) expect(j - i + 1).toBeLessThanOrEqual(burst + (rate * (list[j].at - list[i].at)) / 1000 + 1e-9);
          };
          for (const to of ['r1', 'r2', 'r3'] as const) bound(sent.filter((s) => s.to === to), shares[to], laneBurst(shares[to]));
          bound(sent, ceiling, 5);
        },
      ),
      { seed: 4_242, numRuns: 100 },
    );
  });

  it('a backlogged lane runs at its share, fractional or above 1,000/s, whatever timers fire in whole ms (ratio reported)', () => {
    const ratios: string[] = [];
    fc.assert(
      fc.property(fc.integer({ min: 50, max: 5_000 }), fc.integer({ min: 200, max: 3_000 }), fc.integer({ min: 0, max: 3 }), (share, users, lateMs) => {
        // A clock whose timers fire up to `lateMs` late: a busy event loop.
        const clock = new ManualClock();
        const late = { now: clock.now, clearTimeout: clock.clearTimeout, setTimeout: (fn: () => void, ms: number) => clock.setTimeout(fn, ms + lateMs) };
        const sent: number[] = [];
        const pacer = new Pacer({ ratePerSec: 1e6, burst: 1_000, jitterMs: 0, clock: late }, () => sent.push(clock.now()), () => share);
        for (let i = 0; i < users; i++) pacer.enqueue(`u${i}`, 'r');
        clock.runUntil(100_000_000);
        expect(sent.length).toBe(users);
        // Completion against M/A: the lane starts with laneBurst tokens, then runs at `share`.
        const ideal = Math.max(0, ((users - laneBurst(share)) / share) * 1000);
        const took = sent[sent.length - 1] - sent[0];
        // Each wait ends at most one whole ms plus the lateness after its token: a few ms over a whole run.
        expect(took).toBeLessThanOrEqual(ideal * 1.02 + 3 * (lateMs + 1));
        expect(took).toBeGreaterThanOrEqual(ideal - 1);
        if (ratios.length < 5 && ideal > 0) ratios.push(`${share}/s x ${users}: ${(took / ideal).toFixed(3)}`);
      }),
      { seed: 77, numRuns: 60 },
    );
    console.log(`lane completion / M/A: ${ratios.join(', ')}`);
  });
});
