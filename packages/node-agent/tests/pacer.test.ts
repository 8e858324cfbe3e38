import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Pacer, TokenBucket, type Clock } from '../src/mod.js';

/** A clock that only moves when told to; timers fire in time order. */
class FakeClock implements Clock {
  private t = 0;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  };
  clearTimeout = (h: unknown) => {
    this.timers.delete(h as number);
  };
  /** Run every timer due up to `until`. */
  runUntil(until: number): void {
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (!next || e[1].at < next[1].at || (e[1].at === next[1].at && e[0] < next[0])) next = e;
      if (!next || next[1].at > until) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = until;
  }
  get pendingTimers(): number {
    return this.timers.size;
  }
}

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
          const clock = new FakeClock();
          const sent: { user: string; at: number }[] = [];
          const pacer = new Pacer({ ratePerSec, burst, jitterMs, clock, random: seeded(seed) }, (user) => sent.push({ user, at: clock.now() }));
          let total = 0;
          const starts = [...waves].sort((a, b) => a[0] - b[0]);
          for (const [at, count] of starts) {
            clock.runUntil(at);
            for (let i = 0; i < count; i++) pacer.enqueue(`u${total++}`);
          }
          clock.runUntil(10_000_000);
          expect(sent.length).toBe(total);
          expect(new Set(sent.map((s) => s.user)).size).toBe(total);
          // Sends i..j (inclusive) fit in [t_i, t_j]: a token bucket allows at most burst + rate * (t_j - t_i).
          for (let i = 0; i < sent.length; i++) {
            for (let j = i; j < sent.length; j++) {
              const allowed = burst + (ratePerSec * (sent[j].at - sent[i].at)) / 1000;
              expect(j - i + 1).toBeLessThanOrEqual(allowed + 1e-9);
            }
          }
          expect(clock.pendingTimers).toBe(0);
        },
      ),
      { seed: 42, numRuns: 150 },
    );
  });

  it('does not send a cancelled user, nor a user twice, and reports when idle', () => {
    const clock = new FakeClock();
    const sent: string[] = [];
    const pacer = new Pacer({ ratePerSec: 10, burst: 1, jitterMs: 100, clock, random: () => 0.5 }, (u) => sent.push(u));
    for (const u of ['a', 'b', 'c', 'a']) pacer.enqueue(u);
    expect(pacer.pending).toBe(3);
    pacer.cancel('b');
    let idle = false;
    pacer.whenIdle(() => (idle = true));
    clock.runUntil(60_000);
    expect(sent.sort()).toEqual(['a', 'c']);
    expect(idle).toBe(true);
  });
});
