import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from './manual-clock.js';

describe('ManualClock', () => {
  it('stands still until told, then fires timers in due order, ties in the order they were set', () => {
    const clock = new ManualClock(1_000);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push(`b@${clock.now()}`), 20);
    clock.setTimeout(() => fired.push(`a@${clock.now()}`), 10);
    clock.setTimeout(() => fired.push(`c1@${clock.now()}`), 20);
    clock.setTimeout(() => fired.push(`zero@${clock.now()}`), 0);
    clock.setTimeout(() => fired.push(`c2@${clock.now()}`), 20);
    expect(clock.now()).toBe(1_000);
    expect(fired).toEqual([]);
    expect(clock.pendingTimers).toBe(5);
    expect(clock.nextDue).toBe(1_000);
    clock.advance(15);
    expect(fired).toEqual(['zero@1000', 'a@1010']);
    expect(clock.now()).toBe(1_015);
    clock.advance(5);
    expect(fired).toEqual(['zero@1000', 'a@1010', 'b@1020', 'c1@1020', 'c2@1020']);
    expect(clock.pendingTimers).toBe(0);
    expect(clock.nextDue).toBeUndefined();
  });

  it('fires a timer set while others fire in the same run when it falls due within it', () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    const loop = () => {
      fired.push(clock.now());
      clock.setTimeout(loop, 30);
    };
    clock.setTimeout(loop, 30);
    clock.runUntil(100);
    expect(fired).toEqual([30, 60, 90]);
    expect(clock.now()).toBe(100);
    expect(clock.nextDue).toBe(120);
    // A zero-delay timer set by a firing timer runs after the others due at that instant.
    const order: string[] = [];
    clock.setTimeout(() => {
      order.push('first');
      clock.setTimeout(() => order.push('nested'), 0);
    }, 5);
    clock.setTimeout(() => order.push('second'), 5);
    clock.advance(5);
    expect(order).toEqual(['first', 'second', 'nested']);
  });

  it('clears pending timers only: twice, after firing, or a foreign handle changes nothing', () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    const a = clock.setTimeout(() => fired.push('a'), 10);
    const b = clock.setTimeout(() => fired.push('b'), 10);
    clock.clearTimeout(a);
    clock.clearTimeout(a);
    clock.clearTimeout(undefined);
    clock.clearTimeout(42);
    clock.clearTimeout({ due: 10 });
    clock.clearTimeout(new ManualClock().setTimeout(() => {}, 10));
    expect(clock.pendingTimers).toBe(1);
    expect(clock.nextDue).toBe(10);
    clock.advance(10);
    clock.clearTimeout(b);
    expect(fired).toEqual(['b']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('fireNext fires one timer at most, and only if it is due by the limit', () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(1), 50);
    clock.setTimeout(() => fired.push(2), 70);
    expect(clock.fireNext(40)).toBe(false);
    expect(clock.now()).toBe(0);
    expect(clock.fireNext(60)).toBe(true);
    expect({ fired, now: clock.now() }).toEqual({ fired: [1], now: 50 });
    expect(clock.fireNext()).toBe(true);
    expect(clock.fireNext()).toBe(false);
    expect({ fired, now: clock.now() }).toEqual({ fired: [1, 2], now: 70 });
    expect(() => clock.advance(-1)).toThrow(RangeError);
  });

  it('matches a reference queue for any sequence of sets, clears and advances', () => {
    type Op = { kind: 'set'; ms: number } | { kind: 'clear'; pick: number } | { kind: 'advance'; ms: number };
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), ms: fc.integer({ min: 0, max: 50 }) }),
      fc.record({ kind: fc.constant('clear' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 40 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops: Op[]) => {
        const clock = new ManualClock();
        const handles: unknown[] = [];
        const reference: { id: number; due: number }[] = [];
        const fired: { id: number; at: number }[] = [];
        const expected: { id: number; at: number }[] = [];
        let now = 0;
        for (const o of ops) {
          if (o.kind === 'set') {
            const id = handles.length;
            handles.push(clock.setTimeout(() => fired.push({ id, at: clock.now() }), o.ms));
            reference.push({ id, due: now + o.ms });
          } else if (o.kind === 'clear') {
            if (handles.length === 0) continue;
            const id = o.pick % handles.length;
            clock.clearTimeout(handles[id]);
            const at = reference.findIndex((r) => r.id === id);
            if (at >= 0) reference.splice(at, 1);
          } else {
            now += o.ms;
            // Stable sort: ties keep insertion order.
            const due = reference.filter((r) => r.due <= now).sort((x, y) => x.due - y.due);
            for (const r of due) {
              expected.push({ id: r.id, at: r.due });
              reference.splice(reference.indexOf(r), 1);
            }
            clock.advance(o.ms);
          }
          expect(clock.pendingTimers).toBe(reference.length);
        }
        expect(fired).toEqual(expected);
        expect(clock.now()).toBe(now);
      }),
      { seed: 8, numRuns: 300 },
    );
  });

  it('views read the shared time with their own offset and share its timer queue', () => {
    const clock = new ManualClock(10_000);
    const ahead = clock.view(2_500);
    const behind = clock.view(-4_000);
    expect([ahead.now(), behind.now()]).toEqual([12_500, 6_000]);
    const fired: string[] = [];
    ahead.setTimeout(() => fired.push(`ahead ${ahead.now()}`), 20);
    const h = behind.setTimeout(() => fired.push('behind'), 10);
    behind.setTimeout(() => fired.push(`behind ${behind.now()}`), 20);
    expect(clock.pendingTimers).toBe(3);
    ahead.clearTimeout(h);
    clock.advance(20);
    expect(fired).toEqual(['ahead 12520', 'behind 6020']);
    // Durations on a view are durations of the shared time.
    const start = behind.now();
    clock.advance(333);
    expect(behind.now() - start).toBe(333);
  });

  it('advanceAsync lets promise continuations finish before the next timer fires; advance does not', async () => {
    const log: string[] = [];
    const chain = async (clock: ManualClock, name: string) => {
      await Promise.resolve();
      await new Promise<void>((resolve) => queueMicrotask(resolve));
      log.push(`${name} continued at ${clock.now()}`);
    };
    const schedule = (clock: ManualClock) => {
      clock.setTimeout(() => {
        log.push(`t1 at ${clock.now()}`);
        void chain(clock, 't1');
      }, 10);
      clock.setTimeout(() => log.push(`t2 at ${clock.now()}`), 20);
    };

    const sync = new ManualClock();
    schedule(sync);
    sync.advance(30);
    await sync.settle();
    expect(log.splice(0)).toEqual(['t1 at 10', 't2 at 20', 't1 continued at 30']);

    const driven = new ManualClock();
    schedule(driven);
    await driven.advanceAsync(30);
    expect(log.splice(0)).toEqual(['t1 at 10', 't1 continued at 10', 't2 at 20']);

    // A timer set by a continuation fires within the same advance.
    const clock = new ManualClock();
    clock.setTimeout(() => {
      void (async () => {
        await Promise.resolve();
        clock.setTimeout(() => log.push(`late at ${clock.now()}`), 5);
      })();
    }, 10);
    await clock.advanceAsync(15);
    expect(log.splice(0)).toEqual(['late at 15']);
  });

  it('settle moves no time and runs what was queued', async () => {
    const clock = new ManualClock(5);
    let done = false;
    void Promise.resolve().then(() => Promise.resolve()).then(() => (done = true));
    await clock.settle();
    expect({ done, now: clock.now() }).toEqual({ done: true, now: 5 });
  });
});
