// The one manual clock of the repository's tests: the client's state-machine tests, the agent's tests and the
// fleet model all run on it. It has the agent's `Clock` shape (now, setTimeout, clearTimeout), which also
// satisfies the client's `Timers`; it is declared here structurally, so it depends on no package of ours.
// Imported by relative path from every package's tests (see the packages' tsconfig.test.json).

/** The shape the agent's `Clock` and the client's `Timers` both accept. */
export interface ClockLike {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

interface Timer {
  readonly due: number;
  /** Insertion order: timers due at the same instant fire in the order they were set. */
  readonly seq: number;
  readonly fn: () => void;
  state: 'pending' | 'fired' | 'cleared';
}

/** One turn of the event loop: every promise continuation queued so far runs (no real time is waited on). */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Time that moves only when told to. Timers fire in due order, ties in the order they were set; a timer set
 * while others fire fires in the same run if it falls due within it. `view(offset)` gives an agent its own
 * reading of the shared time (machines' clocks differ) over the one timer queue.
 *
 * The synchronous moves (`advance`, `runUntil`, `fireNext`) run timers back to back. The asynchronous ones
 * (`advanceAsync`, `runUntilAsync`, `settle`) also let promise continuations run before, between and after
 * timers, so code that awaits in-memory work (a membership write, building a ring, an epoch's
 * compare-and-set) finishes each step before the next timer fires, as it would in real time.
 */
export class ManualClock implements ClockLike {
  private t: number;
  private seq = 0;
  private live = 0;
  /** A binary min-heap on (due, seq); cleared timers stay in it, marked, until they reach the top. */
  private readonly heap: Timer[] = [];
  /** Every handle this clock gave out (weakly), so a foreign handle is never taken for one of ours. */
  private readonly owns = new WeakSet<Timer>();

  constructor(start = 0) {
    this.t = start;
  }

  // Arrow properties: the methods keep working when handed around on their own (`{ setTimeout: clock.setTimeout }`).

  readonly now = (): number => this.t;

  readonly setTimeout = (fn: () => void, ms: number): unknown => {
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    const timer: Timer = { due: this.t + delay, seq: this.seq++, fn, state: 'pending' };
    this.owns.add(timer);
    this.push(timer);
    this.live++;
    return timer;
  };

  readonly clearTimeout = (handle: unknown): void => {
    const timer = handle as Timer | undefined;
    // Anything else (undefined, another clock's handle, a timer that fired or was cleared) is ignored, as Node does.
    if (typeof timer !== 'object' || timer === null || !this.owns.has(timer) || timer.state !== 'pending') return;
    timer.state = 'cleared';
    this.live--;
  };

  /** Timers set and neither fired nor cleared. */
  get pendingTimers(): number {
    return this.live;
  }

  /** When the next pending timer is due, or undefined if none is. */
  get nextDue(): number | undefined {
    return this.peek()?.due;
  }

  /** Fire the earliest pending timer if it is due by `limit`, moving time to it. Returns whether one fired. */
  fireNext(limit = Number.POSITIVE_INFINITY): boolean {
    const timer = this.peek();
    if (!timer || timer.due > limit) return false;
    this.pop();
    this.live--;
    timer.state = 'fired';
    this.t = Math.max(this.t, timer.due);
    timer.fn();
    return true;
  }

  /** Fire every timer due by `until` (including those set on the way), then stand at `until`. */
  runUntil(until: number): void {
    while (this.fireNext(until));
    this.t = Math.max(this.t, until);
  }

  /** `runUntil(now + ms)`. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`cannot advance by ${ms} ms`);
    this.runUntil(this.t + ms);
  }

  /** Let every promise continuation queued so far run, `turns` event-loop turns deep; time does not move. */
  async settle(turns = 1): Promise<void> {
    for (let i = 0; i < turns; i++) await turn();
  }

  /** `runUntil`, letting promise continuations run before, between and after the timers. */
  async runUntilAsync(until: number, turns = 1): Promise<void> {
    await this.settle(turns);
    while (this.fireNext(until)) await this.settle(turns);
    this.t = Math.max(this.t, until);
    await this.settle(turns);
  }

  /** `advance`, letting promise continuations run before, between and after the timers. */
  async advanceAsync(ms: number, turns = 1): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`cannot advance by ${ms} ms`);
    await this.runUntilAsync(this.t + ms, turns);
  }

  /**
   * One machine's reading of this time: `offsetMs` ahead (or behind) of the others, timers on the shared
   * queue. Durations measured on one view are durations of the shared time, so the offset never matters to
   * code that compares only readings of its own clock.
   */
  view(offsetMs: number): ClockLike {
    return {
      now: () => this.t + offsetMs,
      setTimeout: (fn, ms) => this.setTimeout(fn, ms),
      clearTimeout: (handle) => this.clearTimeout(handle),
    };
  }

  // ---- the heap ----

  /** The earliest timer still pending, dropping cleared ones from the top. */
  private peek(): Timer | undefined {
    while (this.heap.length > 0 && this.heap[0].state === 'cleared') this.pop();
    return this.heap[0];
  }

  private before(a: Timer, b: Timer): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  private push(timer: Timer): void {
    const h = this.heap;
    h.push(timer);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(h[i], h[parent])) break;
      [h[i], h[parent]] = [h[parent], h[i]];
      i = parent;
    }
  }

  private pop(): Timer | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length === 0 || last === undefined) return top;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.before(h[l], h[m])) m = l;
      if (r < h.length && this.before(h[r], h[m])) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m], h[i]];
      i = m;
    }
    return top;
  }
}
