// The admission gate on the manual clock: sockets pass first in first out, at most `burst + rate x T` by token in
// any window T, none waits past `maxWaitMs`, and one that closed while waiting is never admitted.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AdmissionGate } from '../src/admission-gate.js';
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
  it('passes sockets at once while the budget lasts, then one per 1/rate', () => {
    const { sockets } = run({ rate: 10, burst: 2, maxWaitMs: 60_000 }, Array.from({ length: 5 }, () => ({ gapMs: 0 })));
    expect(sockets.map((s) => s.admittedAt! - s.at)).toEqual([0, 0, 100, 200, 300]);
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
        // By token: at most burst + rate x T in any window [t_i, t_j].
        const byToken = sockets.filter((s) => s.admittedAt !== undefined && !s.overflow).map((s) => s.admittedAt!);
        for (let i = 0; i < byToken.length; i++) {
          for (let j = i; j < byToken.length; j++) {
            expect(j - i + 1).toBeLessThanOrEqual(o.burst + (o.rate * (byToken[j] - byToken[i])) / 1000 + 1e-9);
          }
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
