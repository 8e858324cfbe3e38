// The admission gate on the manual clock: users pass first in first out, at most `rate + gateBurst(rate)` by turn in
// any one-second window and at most `rate x (T + CATCH_UP_MS)` (at least one) in any window T, none waits past
// `maxWaitMs`, each socket is admitted at most once and never after it left, a user's sessions pass together.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AdmissionGate, CATCH_UP_MS, gateBurst } from '../src/admission-gate.js';
import { ManualClock } from '../../../test/support/manual-clock.js';

interface Socket {
  id: number;
  user: string;
  at: number;
  gone: boolean;
  admitted: number[];
  goneWhenAdmitted?: boolean;
  refused?: string;
  overflow?: boolean;
}

interface Arrival {
  gapMs: number;
  goneAfterMs?: number;
  user?: string;
  here?: boolean;
}

/** Run a gate over `arrivals` (gaps from the one before) and return what became of each socket. */
function run(o: { rate: number; maxWaitMs: number; maxSessionsPerUser?: number }, arrivals: Arrival[], throwing = new Set<number>()) {
  const clock = new ManualClock(1_000_000);
  const errors: unknown[] = [];
  const gate = new AdmissionGate({ ratePerSec: o.rate, maxWaitMs: o.maxWaitMs, maxSessionsPerUser: o.maxSessionsPerUser ?? 16, clock, onError: (e) => errors.push(e) });
  const sockets: Socket[] = [];
  const order: number[] = [];
  let overflowsSeen = 0;
  for (const [id, a] of arrivals.entries()) {
    clock.advance(a.gapMs);
    const s: Socket = { id, user: a.user ?? `u${id}`, at: clock.now(), gone: false, admitted: [] };
    sockets.push(s);
    if (a.goneAfterMs !== undefined) clock.setTimeout(() => (s.gone = true), a.goneAfterMs);
    gate.enter(s.user, a.here ?? false, {
      admit: () => {
        s.admitted.push(clock.now());
        s.goneWhenAdmitted = s.gone;
        s.overflow = gate.overflowed > overflowsSeen;
        overflowsSeen = gate.overflowed;
        order.push(id);
        if (throwing.has(id)) throw new Error(`socket ${id} failed`);
      },
      refuse: (reason) => (s.refused = reason),
      gone: () => s.gone,
    });
  }
  clock.advance(o.maxWaitMs + 1_000);
  return { sockets, order, gate, errors, clock };
}

const arrivalsArb = fc.array(fc.record({ gapMs: fc.nat(40), goneAfterMs: fc.option(fc.integer({ min: 1, max: 3_000 }), { nil: undefined }) }), { maxLength: 400 });
const optionsArb = fc.record({ rate: fc.oneof(fc.integer({ min: 1, max: 2_000 }), fc.double({ min: 0.5, max: 50, noNaN: true })), maxWaitMs: fc.integer({ min: 1, max: 5_000 }) });

describe('AdmissionGate', () => {
  it('passes users at once while the burst lasts, then one per 1/rate', () => {
    const { sockets } = run({ rate: 40, maxWaitMs: 60_000 }, Array.from({ length: 5 }, () => ({ gapMs: 0 })));
    // gateBurst(40) = 2 at once, then one every 25 ms.
    expect(sockets.map((s) => s.admitted[0] - s.at)).toEqual([0, 0, 25, 50, 75]);
  });

  it('a turn that comes round late takes what it earned meanwhile (up to CATCH_UP_MS), within the one-second window', () => {
    const clock = new ManualClock(0);
    const gate = new AdmissionGate({ ratePerSec: 100, maxWaitMs: 60_000, maxSessionsPerUser: 16, clock });
    const admitted: number[] = [];
    for (let i = 0; i < 300; i++) gate.enter(`u${i}`, false, { admit: () => admitted.push(clock.now()), refuse: () => {}, gone: () => false });
    // The event loop comes round every 200 ms: each turn admits the 20 earned since, not one burst.
    for (let t = 200; t <= 3_000; t += 200) clock.advance(200);
    expect(admitted.filter((t) => t < 3_000).length).toBeGreaterThanOrEqual(300 - gateBurst(100));
    expect(Math.max(...admitted.map((t) => admitted.filter((u) => u >= t && u < t + 1_000).length))).toBeLessThanOrEqual(100 + gateBurst(100));
  });

  it('lets a user through at maxWaitMs without a turn, and one arriving while more wait than it admits in that time at once; both counted', () => {
    const { sockets, gate } = run({ rate: 2, maxWaitMs: 500 }, Array.from({ length: 3 }, () => ({ gapMs: 0 })));
    // One at once (a turn); one waits for the next turn, 500 ms on; the third finds as many waiting as the gate admits
    // within 500 ms (ceil(2 x 0.5) = 1) and passes at once, counted.
    expect(sockets.map((s) => [s.admitted[0] - s.at, s.overflow])).toEqual([[0, false], [500, false], [0, true]]);
    expect([gate.queued, gate.overflowed, gate.waiting]).toEqual([1, 1, 0]);
    // Past the wait: one at a time at rate 1 with a 300 ms wait, the second goes at 300 ms without a turn.
    const late = run({ rate: 1, maxWaitMs: 300 }, Array.from({ length: 2 }, () => ({ gapMs: 0 })));
    expect(late.sockets.map((s) => [s.admitted[0] - s.at, s.overflow])).toEqual([[0, false], [300, true]]);
  });

  it('counts users: the sessions of a waiting user pass together, one of a user already here at once, one past maxSessionsPerUser is refused', () => {
    const { sockets, gate } = run({ rate: 10, maxWaitMs: 60_000, maxSessionsPerUser: 2 }, [
      { gapMs: 0, user: 'a' },
      { gapMs: 0, user: 'b' },
      { gapMs: 0, user: 'c' },
      { gapMs: 10, user: 'b' },
      { gapMs: 0, user: 'b' },
      { gapMs: 0, user: 'a', here: true },
    ]);
    expect(sockets.map((s) => (s.refused ? 'refused' : s.admitted[0] - 1_000_000))).toEqual([0, 100, 200, 100, 'refused', 10]);
    expect(gate.queued).toBe(2);
  });

  it('a turn whose admission throws does not stop the gate: the next users pass at their turns', () => {
    const { sockets, errors } = run({ rate: 10, maxWaitMs: 60_000 }, Array.from({ length: 4 }, () => ({ gapMs: 0 })), new Set([1]));
    expect(sockets.map((s) => s.admitted[0] - s.at)).toEqual([0, 100, 200, 300]);
    expect(errors).toHaveLength(1);
  });

  it('admits at a lowered rate from setRate (a node warming up), never above the configured one', () => {
    const clock = new ManualClock(0);
    const gate = new AdmissionGate({ ratePerSec: 100, maxWaitMs: 60_000, maxSessionsPerUser: 16, clock });
    gate.setRate(10);
    const admitted: number[] = [];
    for (let i = 0; i < 30; i++) gate.enter(`u${i}`, false, { admit: () => admitted.push(clock.now()), refuse: () => {}, gone: () => false });
    clock.advance(1_000);
    expect(admitted.filter((t) => t < 1_000).length).toBeLessThanOrEqual(10 + gateBurst(10));
    gate.setRate(1_000);
    expect(gate.ratePerSec).toBe(100);
    clock.advance(1_000);
    expect(admitted).toHaveLength(30);
  });

  it('after close admits at once (the admitter refuses a closing node\'s sockets itself)', () => {
    const clock = new ManualClock(0);
    const gate = new AdmissionGate({ ratePerSec: 1, maxWaitMs: 60_000, maxSessionsPerUser: 16, clock });
    const admitted: string[] = [];
    gate.enter('a', false, { admit: () => admitted.push('a'), refuse: () => {}, gone: () => false });
    gate.close();
    gate.enter('b', false, { admit: () => admitted.push('b'), refuse: () => {}, gone: () => false });
    expect(admitted).toEqual(['a', 'b']);
  });

  it('with maxWaitMs 0 is no gate', () => {
    const { sockets, gate } = run({ rate: 1, maxWaitMs: 0 }, Array.from({ length: 10 }, () => ({ gapMs: 0 })));
    expect(sockets.every((s) => s.admitted[0] === s.at)).toBe(true);
    expect(gate.queued).toBe(0);
  });

  it('keeps the bounds, the order and the longest wait; admits each socket once and never one that left', () => {
    fc.assert(
      fc.property(optionsArb, arrivalsArb, (o, arrivals) => {
        const { sockets, order, gate } = run(o, arrivals);
        // Each at most once; first in first out among those admitted at their turn (one let through because more
        // waited than the gate admits within maxWaitMs passes ahead, as the docs say).
        expect(new Set(order).size).toBe(order.length);
        const turns = order.filter((id) => !sockets[id].overflow);
        expect(turns).toEqual([...turns].sort((a, b) => a - b));
        for (const s of sockets) {
          if (s.admitted.length === 0) {
            // Only a socket that left before its turn is never admitted.
            expect(s.gone).toBe(true);
            continue;
          }
          expect(s.goneWhenAdmitted).toBe(false);
          expect(s.admitted[0] - s.at).toBeLessThanOrEqual(o.maxWaitMs);
        }
        // By turn: at most rate + gateBurst(rate) in any one-second window (the documented bound), and
        // rate x (T + CATCH_UP_MS), at least one, in any window T.
        const byTurn = sockets.filter((s) => s.admitted.length > 0 && !s.overflow).map((s) => s.admitted[0]);
        const perSecond = o.rate + gateBurst(o.rate);
        const ahead = Math.max(1, (o.rate * CATCH_UP_MS) / 1000);
        for (let i = 0; i < byTurn.length; i++) {
          let inSecond = 0;
          for (let j = i; j < byTurn.length; j++) {
            if (byTurn[j] < byTurn[i] + 1_000) inSecond++;
            expect(j - i + 1).toBeLessThanOrEqual(ahead + (o.rate * (byTurn[j] - byTurn[i])) / 1000 + 1e-9);
          }
          expect(inSecond).toBeLessThanOrEqual(perSecond);
        }
        expect(gate.waiting).toBe(0);
      }),
      { seed: 20261130, numRuns: 200 },
    );
  });

  it('a user\'s sessions are admitted together, at its first session\'s place in line', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ gapMs: fc.nat(30), user: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f') }), { maxLength: 200 }), (arrivals) => {
        const { sockets } = run({ rate: 20, maxWaitMs: 60_000 }, arrivals);
        // Sessions that waited in one group share an admission time; groups pass in the order of their first session.
        for (const s of sockets) expect(s.admitted).toHaveLength(1);
        const firstOf = new Map<number, number>();
        for (const s of sockets) if (!firstOf.has(s.admitted[0])) firstOf.set(s.admitted[0], s.id);
        const times = [...firstOf.keys()];
        expect(times).toEqual([...times].sort((x, y) => x - y));
        expect([...firstOf.values()]).toEqual([...firstOf.values()].sort((x, y) => x - y));
      }),
      { seed: 5, numRuns: 100 },
    );
  });

  it('never overflows while arrivals stay within the rate', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000 }), fc.integer({ min: 1, max: 300 }), (rate, n) => {
        const spacing = Math.ceil(1000 / rate);
        const { sockets, gate } = run({ rate, maxWaitMs: 1 }, Array.from({ length: n }, () => ({ gapMs: spacing })));
        expect(gate.overflowed).toBe(0);
        expect(sockets.every((s) => s.admitted[0] === s.at)).toBe(true);
      }),
      { seed: 7, numRuns: 100 },
    );
  });
});
