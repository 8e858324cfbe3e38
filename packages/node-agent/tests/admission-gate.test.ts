// The admission gate on the manual clock: users pass first in first out, at most `rate + burst` by turn in any
// one-second window and at most `rate x (T + CATCH_UP_MS)` in any window T, none waits past `maxWaitMs`, and one
// that closed while waiting is never admitted.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AdmissionGate, CATCH_UP_MS } from '../src/admission-gate.js';
import { ManualClock } from '../../../test/support/manual-clock.js';

interface Socket {
  id: number;
  at: number;
  gone: boolean;
  admittedAt?: number;
  overflow?: boolean;
}

/** Run a gate over `arrivals` (offsets from the start, in order) and return what became of each socket. */
function run(o: { rate: number; burst: number; maxWaitMs: number }, arrivals: { gapMs: number; goneAfterMs?: number; user?: string; here?: boolean }[]) {
  const clock = new ManualClock(1_000_000);
  const gate = new AdmissionGate({ ratePerSec: o.rate, burst: o.burst, maxWaitMs: o.maxWaitMs, clock });
  const sockets: Socket[] = [];
  const order: number[] = [];
  let overflowsSeen = 0;
  for (const [id, a] of arrivals.entries()) {
    clock.advance(a.gapMs);
    const s: Socket = { id, at: clock.now(), gone: false };
    sockets.push(s);
    if (a.goneAfterMs !== undefined) clock.setTimeout(() => (s.gone = true), a.goneAfterMs);
    gate.enter(
      a.user ?? `u${id}`,
      a.here ?? false,
      () => {
        s.admittedAt = clock.now();
        s.overflow = gate.overflowed > overflowsSeen;
        overflowsSeen = gate.overflowed;
        order.push(id);
      },
      () => s.gone,
    );
  }
  clock.advance(o.maxWaitMs + 1_000);
  return { sockets, order, gate };
}

const arrivalsArb = fc.array(fc.record({ gapMs: fc.nat(40), goneAfterMs: fc.option(fc.integer({ min: 1, max: 3_000 }), { nil: undefined }) }), { maxLength: 400 });
const optionsArb = fc.record({ rate: fc.integer({ min: 1, max: 2_000 }), burst: fc.integer({ min: 1, max: 50 }), maxWaitMs: fc.integer({ min: 1, max: 5_000 }) });

describe('AdmissionGate', () => {
  it('passes users at once while the burst lasts, then one per 1/rate', () => {
    const { sockets } = run({ rate: 10, burst: 2, maxWaitMs: 60_000 }, Array.from({ length: 5 }, () => ({ gapMs: 0 })));
    expect(sockets.map((s) => s.admittedAt! - s.at)).toEqual([0, 0, 100, 200, 300]);
  });

  it('a turn that comes round late takes what it earned meanwhile (up to CATCH_UP_MS), within the one-second window', () => {
    const clock = new ManualClock(0);
    const gate = new AdmissionGate({ ratePerSec: 100, burst: 5, maxWaitMs: 60_000, clock });
    const admitted: number[] = [];
    for (let i = 0; i < 300; i++) gate.enter(`u${i}`, false, () => admitted.push(clock.now()), () => false);
    // The event loop comes round every 200 ms: each turn admits the 20 earned since, not one burst.
    for (let t = 200; t <= 3_000; t += 200) clock.advance(200);
    const inFirstSeconds = admitted.filter((t) => t < 3_000).length;
    expect(inFirstSeconds).toBeGreaterThanOrEqual(300 - 5);
    expect(Math.max(...admitted.map((t) => admitted.filter((u) => u >= t && u < t + 1_000).length))).toBeLessThanOrEqual(105);
  });

  it('lets a socket through at maxWaitMs without a token, counted as an overflow', () => {
    const { sockets, gate } = run({ rate: 1, burst: 1, maxWaitMs: 500 }, Array.from({ length: 3 }, () => ({ gapMs: 0 })));
    expect(sockets.map((s) => [s.admittedAt! - s.at, s.overflow])).toEqual([[0, false], [500, true], [500, true]]);
    expect([gate.queued, gate.overflowed, gate.waiting]).toEqual([2, 2, 0]);
  });

  it('counts users: the sessions of a waiting user pass together, one of a user already here at once', () => {
    const { sockets, gate } = run({ rate: 10, burst: 1, maxWaitMs: 60_000 }, [
      { gapMs: 0, user: 'a' },
      { gapMs: 0, user: 'b' },
      { gapMs: 0, user: 'c' },
      { gapMs: 10, user: 'b' },
      { gapMs: 0, user: 'a', here: true },
    ]);
    expect(sockets.map((s) => s.admittedAt! - 1_000_000)).toEqual([0, 100, 200, 100, 10]);
    expect(gate.queued).toBe(2);
  });

  it('with maxWaitMs 0 is no gate', () => {
    const { sockets, gate } = run({ rate: 1, burst: 1, maxWaitMs: 0 }, Array.from({ length: 10 }, () => ({ gapMs: 0 })));
    expect(sockets.every((s) => s.admittedAt === s.at)).toBe(true);
    expect(gate.queued).toBe(0);
  });

  it('keeps the bound, the order and the longest wait, and never admits a socket that left', () => {
    fc.assert(
      fc.property(optionsArb, arrivalsArb, (o, arrivals) => {
        const { sockets, order, gate } = run(o, arrivals);
        // First in first out, among the sockets admitted.
        expect(order).toEqual([...order].sort((a, b) => a - b));
        for (const s of sockets) {
          if (s.admittedAt === undefined) {
            // Only a socket that left before its turn is never admitted.
            expect(s.gone).toBe(true);
            continue;
          }
          expect(s.admittedAt - s.at).toBeLessThanOrEqual(o.maxWaitMs);
        }
        // By turn: at most rate + burst in any one-second window, and rate x (T + CATCH_UP_MS) in any window T.
        const byTurn = sockets.filter((s) => s.admittedAt !== undefined && !s.overflow).map((s) => s.admittedAt!);
        const limit = Math.max(1, Math.floor(o.rate + o.burst));
        const depth = Math.max(1, Math.min(limit, (o.rate * CATCH_UP_MS) / 1000));
        for (let i = 0; i < byTurn.length; i++) {
          let inSecond = 0;
          for (let j = i; j < byTurn.length; j++) {
            if (byTurn[j] < byTurn[i] + 1_000) inSecond++;
            expect(j - i + 1).toBeLessThanOrEqual(depth + (o.rate * (byTurn[j] - byTurn[i])) / 1000 + 1e-9);
          }
          expect(inSecond).toBeLessThanOrEqual(limit);
        }
        expect(gate.waiting).toBe(0);
      }),
      { seed: 20261130, numRuns: 200 },
    );
  });

  it('never overflows while arrivals stay within the rate', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000 }), fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 300 }), (rate, burst, n) => {
        const spacing = Math.ceil(1000 / rate);
        const { sockets, gate } = run({ rate, burst, maxWaitMs: 1 }, Array.from({ length: n }, () => ({ gapMs: spacing })));
        expect(gate.overflowed).toBe(0);
        expect(sockets.every((s) => s.admittedAt === s.at)).toBe(true);
      }),
      { seed: 7, numRuns: 100 },
    );
  });
});
