import type { Clock } from './clock.js';

export interface AdmissionGateOptions {
  /** Users this node admits per second at most (its configured accept rate): sizes the gate; `setRate` may lower it. */
  ratePerSec: number;
  /** Longest a socket waits for its turn; past it, it is let through anyway (an overflow). 0: no gate. */
  maxWaitMs: number;
  /** Sessions of one user that may wait together; further ones are refused (the admitter would close them anyway). */
  maxSessionsPerUser: number;
  clock: Clock;
  /** A turn's admission threw: the gate goes on with the next. */
  onError?: (err: unknown) => void;
}

/** One socket waiting: admitted at its user's turn, refused if its user already has too many waiting, skipped if gone. */
export interface GateSession {
  admit(): void;
  refuse(reason: string): void;
  gone(): boolean;
}

/** One user's sessions waiting together: they move together (a sender's budget counts users), so they take one turn. */
interface Waiting {
  user: string;
  since: number;
  sessions: GateSession[];
}

/** Of the rate, what a late turn may catch up on at once: event-loop turns up to this long lose none of it. */
export const CATCH_UP_MS = 250;

/** The users a one-second window may hold on top of the rate: 1/20 of it (the senders' lanes keep the same 50 ms). */
export function gateBurst(ratePerSec: number): number {
  return Math.max(1, Math.ceil(ratePerSec / 20));
}

/** Tokens the gate's bucket holds at most at `ratePerSec`: CATCH_UP_MS of it, at least one user. */
export function gateDepth(ratePerSec: number): number {
  return Math.max(1, (ratePerSec * CATCH_UP_MS) / 1000);
}

/** Turns any one-second window holds at `ratePerSec`, for a gate sized for its configured rate (setRate never goes above it). */
export function gateWindow(configured: number, ratePerSec: number): number {
  return Math.min(Math.max(1, Math.floor(configured + gateBurst(configured))), Math.max(1, Math.floor(ratePerSec + gateBurst(ratePerSec))));
}

/**
 * The receiver's own guard on its accept rate. Senders pace their move frames so that arrivals stay within a
 * node's budget, but the clients' and the kernel's queues sit in between: a receiver whose event loop stalls (a
 * cold start, a long GC) finds the handshakes of the last second queued up and would admit them all at once.
 * Authenticated sockets therefore wait here, first in first out, for their turn. Two limits make a turn:
 * - a window: at most `rate + gateBurst(rate)` users in any one second (the bound, as each node counts its arrivals);
 * - a token bucket of `rate` holding `CATCH_UP_MS` of it (at least one user): turns are spread over the second, and
 *   a node whose event loop comes round late (a busy receiver turns every 100-250 ms) takes what it earned
 *   meanwhile, so it still admits `rate` on average. A bucket one burst deep lost it: a busy receiver admitted a
 *   fraction of its rate.
 * `rate` is what the node declares now (it warms up: `setRate`). Like the senders' budgets the gate counts users:
 * the sessions of a user that wait take one turn together (at most `maxSessionsPerUser` of them), a further
 * session of a user the node holds already passes at once, and so does a socket the node will redirect or refuse. A socket never waits longer than `maxWaitMs` (kept under
 * the clients' connect timeout, so waiting never turns into a failover); one that would is let through, counted as
 * an overflow, and so is a user arriving while more wait than the gate could admit within `maxWaitMs`.
 */
export class AdmissionGate {
  private rate: number;
  private tokens: number;
  private tokensAt: number;
  /** Admission times of the last users by turn, a ring sized for the configured rate; `next` is the next slot. */
  private readonly window: Float64Array;
  private next = 0;
  private filled = 0;
  private readonly queue: (Waiting | undefined)[] = [];
  private readonly byUser = new Map<string, Waiting>();
  private head = 0;
  private timer: unknown = undefined;
  private timerAt = Infinity;
  private closed = false;
  /** Users let through without a turn: past `maxWaitMs`, or arriving at a full queue. */
  overflowed = 0;
  /** Users that waited at all (the rest passed at once). */
  queued = 0;

  constructor(private readonly o: AdmissionGateOptions) {
    this.rate = o.ratePerSec;
    this.window = new Float64Array(o.maxWaitMs > 0 ? gateWindow(o.ratePerSec, o.ratePerSec) : 0);
    this.tokens = Math.min(this.depth, gateBurst(o.ratePerSec));
    this.tokensAt = o.clock.now();
  }

  /** Users waiting now. */
  get waiting(): number {
    return this.queue.length - this.head;
  }

  /** The rate turns go at now. */
  get ratePerSec(): number {
    return this.rate;
  }

  /** The node declares another rate (it warms up): turns go at it from now, never above the configured rate. */
  setRate(ratePerSec: number): void {
    const now = this.o.clock.now();
    this.refill(now);
    this.rate = Math.min(this.o.ratePerSec, Math.max(Number.MIN_VALUE, ratePerSec));
    this.tokens = Math.min(this.tokens, this.depth);
    if (this.waiting > 0) this.schedule(now, true);
  }

  /**
   * Admit this socket at its user's turn; never, if it is gone by then (it closed while waiting).
   * @param passes no turn for this one: the user holds a session here already (a further one), or the node will not
   *   take it (a redirect or a refusal, which cost little).
   */
  enter(user: string, passes: boolean, session: GateSession): void {
    if (this.o.maxWaitMs <= 0 || passes || this.closed) {
      this.run(session);
      return;
    }
    const waiting = this.byUser.get(user);
    if (waiting) {
      if (waiting.sessions.length >= this.o.maxSessionsPerUser) session.refuse(`more than ${this.o.maxSessionsPerUser} sessions of one user waiting to be admitted`);
      else waiting.sessions.push(session);
      return;
    }
    const now = this.o.clock.now();
    this.drain(now);
    if (this.waiting === 0 && this.take(now)) {
      this.run(session);
      return;
    }
    if (this.waiting >= Math.ceil((this.rate * this.o.maxWaitMs) / 1000)) {
      // More wait than the gate admits within maxWaitMs: this one would be let through past its wait anyway.
      this.overflowed++;
      this.run(session);
      return;
    }
    this.queued++;
    const entry: Waiting = { user, since: now, sessions: [session] };
    this.queue.push(entry);
    this.byUser.set(user, entry);
    this.schedule(now, false);
  }

  /** Stop the timer; sockets still waiting are left to the server's close, later ones pass at once. */
  close(): void {
    this.closed = true;
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    this.queue.length = 0;
    this.byUser.clear();
    this.head = 0;
  }

  private get depth(): number {
    return gateDepth(this.rate);
  }

  private refill(now: number): void {
    if (now > this.tokensAt) {
      this.tokens = Math.min(this.depth, this.tokens + ((now - this.tokensAt) * this.rate) / 1000);
      this.tokensAt = now;
    }
  }

  private drain(now: number): void {
    while (this.head < this.queue.length) {
      const next = this.queue[this.head]!;
      if (next.sessions.every((s) => s.gone())) {
        this.shift();
        continue;
      }
      if (this.take(now)) {
        this.shift();
        for (const s of next.sessions) if (!s.gone()) this.run(s);
        continue;
      }
      if (now - next.since >= this.o.maxWaitMs) {
        this.overflowed++;
        this.shift();
        for (const s of next.sessions) if (!s.gone()) this.run(s);
        continue;
      }
      break;
    }
  }

  /** One socket's admission; a throw is the admission's own fault, never the gate's or the next socket's. */
  private run(session: GateSession): void {
    try {
      session.admit();
    } catch (err) {
      this.o.onError?.(err);
    }
  }

  /** A turn now, if both the window and the bucket have one. */
  private take(now: number): boolean {
    if (this.windowWaitMs(now) > 0) return false;
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    this.window[this.next] = now;
    this.next = (this.next + 1) % this.window.length;
    this.filled = Math.min(this.filled + 1, this.window.length);
    return true;
  }

  /** Until the window has room: the `limit`-th latest turn is a second old, for this rate's limit. */
  private windowWaitMs(now: number): number {
    const limit = gateWindow(this.o.ratePerSec, this.rate);
    if (this.filled < limit) return 0;
    const oldest = this.window[(this.next - limit + this.window.length) % this.window.length];
    return Math.max(0, oldest + 1000 - now);
  }

  private shift(): void {
    this.byUser.delete(this.queue[this.head]!.user);
    this.queue[this.head] = undefined;
    this.head++;
    // Compact once the consumed half outweighs the rest: amortised O(1) per socket.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }

  private schedule(now: number, reschedule: boolean): void {
    if (this.waiting === 0) return;
    const first = this.queue[this.head]!;
    this.refill(now);
    const bucketWait = this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * 1000) / this.rate);
    const turn = Math.max(bucketWait, Math.ceil(this.windowWaitMs(now)));
    const at = now + Math.max(1, Math.min(turn, first.since + this.o.maxWaitMs - now));
    if (this.timer !== undefined && this.timerAt <= at && !reschedule) return;
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      const t = this.o.clock.now();
      try {
        this.drain(t);
      } finally {
        this.schedule(t, false);
      }
    }, at - now);
  }
}
