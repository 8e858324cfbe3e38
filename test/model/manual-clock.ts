import type { Clock } from '@wsring/node-agent';

interface Timer {
  due: number;
  /** Insertion order: timers due at the same instant fire in the order they were set. */
  seq: number;
  fn: () => void;
}

/**
 * Simulated time for a whole fleet. Nothing fires until `fireNext` is called, so a test decides
 * exactly when each timer of each agent runs.
 */
export class ManualScheduler {
  now = 0;
  private timers: Timer[] = [];
  private seq = 0;

  setTimeout(fn: () => void, ms: number): Timer {
    const timer = { due: this.now + Math.max(0, ms), seq: this.seq++, fn };
    // Few timers are pending at once (a handful per agent), so a sorted insert is enough.
    let i = this.timers.length;
    while (i > 0 && this.before(timer, this.timers[i - 1])) i--;
    this.timers.splice(i, 0, timer);
    return timer;
  }

  clearTimeout(handle: unknown): void {
    const i = this.timers.indexOf(handle as Timer);
    if (i >= 0) this.timers.splice(i, 1);
  }

  /** When the next timer is due, or undefined if none is pending. */
  get nextDue(): number | undefined {
    return this.timers[0]?.due;
  }

  /** Fire the earliest timer if it is due by `limit`; returns whether one fired. */
  fireNext(limit: number): boolean {
    const timer = this.timers[0];
    if (!timer || timer.due > limit) return false;
    this.timers.shift();
    this.now = timer.due;
    timer.fn();
    return true;
  }

  /** Move time forward to `to` once no timer before it is left. */
  jumpTo(to: number): void {
    this.now = Math.max(this.now, to);
  }

  /**
   * One agent's view of the shared time: its own clock reading (offset from the others, as real
   * machines are) over the shared timer queue. Liveness and settling may only ever compare
   * readings of one agent's clock, so the offset must never matter.
   */
  view(offsetMs: number): Clock {
    return {
      now: () => this.now + offsetMs,
      setTimeout: (fn, ms) => this.setTimeout(fn, ms),
      clearTimeout: (h) => this.clearTimeout(h),
    };
  }

  private before(a: Timer, b: Timer): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }
}
