import type { Clock } from './clock.js';
import { TokenBucket } from './token-bucket.js';

export interface AdmissionGateOptions {
  /** Users this node admits per second (its accept rate). */
  ratePerSec: number;
  /** Users a one-second window may hold on top of the rate. */
  burst: number;
  /** Longest a socket waits for its turn; past it, it is admitted anyway (an overflow). 0: no gate. */
  maxWaitMs: number;
  clock: Clock;
}

interface Session {
  admit: () => void;
  gone: () => boolean;
}

/** One user's sessions waiting together: they move together (a sender's budget counts users), so they take one turn. */
interface Waiting {
  user: string;
  since: number;
  sessions: Session[];
}

/** Of the rate, what a late turn may catch up on at once: event-loop turns up to this long lose none of it. */
export const CATCH_UP_MS = 250;

/**
 * The receiver's own guard on its accept rate. Senders pace their move frames so that arrivals stay within a
 * node's budget, but the clients' and the kernel's queues sit in between: a receiver whose event loop stalls (a
 * cold start, a long GC) finds the handshakes of the last second queued up and would admit them all at once.
 * Authenticated sockets therefore wait here, first in first out, for their turn. Two limits make a turn:
 * - a window: at most `ratePerSec + burst` users in any one second (the bound, as each node counts its arrivals);
 * - a token bucket of `ratePerSec` holding `CATCH_UP_MS` of it: turns are spread over the second, and a node whose
 *   event loop comes round late (a busy receiver turns every 100-250 ms) takes what it earned meanwhile, so it
 *   still admits `ratePerSec` on average. A bucket one burst deep lost it: a busy receiver admitted a fraction of
 *   its rate, its clients timed out and failed over, and they moved twice.
 * Like the senders' budgets it
 * counts users: the sessions of a user that wait take one turn together, and a further session of a user the
 * node holds already passes at once. A socket never waits longer than `maxWaitMs` (kept under the clients'
 * connect timeout, so waiting never turns into a failover); one that would is let through, counted as an overflow.
 */
export class AdmissionGate {
  private readonly bucket: TokenBucket;
  /** Admission times of the last `limit` users by turn, a ring; `next` is the oldest once it is full. */
  private readonly window: Float64Array;
  private next = 0;
  private filled = 0;
  private readonly queue: Waiting[] = [];
  private readonly byUser = new Map<string, Waiting>();
  private head = 0;
  private timer: unknown = undefined;
  private timerAt = Infinity;
  /** Users let through past `maxWaitMs`, without a token. */
  overflowed = 0;
  /** Users that waited at all (the rest passed at once). */
  queued = 0;

  constructor(private readonly o: AdmissionGateOptions) {
    const limit = Math.max(1, Math.floor(o.ratePerSec + o.burst));
    this.window = new Float64Array(o.maxWaitMs > 0 ? limit : 0);
    this.bucket = new TokenBucket(o.ratePerSec, Math.max(1, Math.min(limit, (o.ratePerSec * CATCH_UP_MS) / 1000)), o.clock.now(), Math.min(limit, Math.max(1, o.burst)));
  }

  /** Users waiting now. */
  get waiting(): number {
    return this.queue.length - this.head;
  }

  /**
   * Run `admit` once this socket's turn comes; never, if `gone()` by then (it closed while waiting).
   * @param alreadyHere the user holds a session on this node: a further one takes no turn.
   */
  enter(user: string, alreadyHere: boolean, admit: () => void, gone: () => boolean): void {
    if (this.o.maxWaitMs <= 0 || alreadyHere) {
      admit();
      return;
    }
    const waiting = this.byUser.get(user);
    if (waiting) {
      waiting.sessions.push({ admit, gone });
      return;
    }
    const now = this.o.clock.now();
    this.drain(now);
    if (this.waiting === 0 && this.take(now)) {
      admit();
      return;
    }
    this.queued++;
    const entry: Waiting = { user, since: now, sessions: [{ admit, gone }] };
    this.queue.push(entry);
    this.byUser.set(user, entry);
    this.schedule(now);
  }

  /** Stop the timer; sockets still waiting are left to the server's close. */
  close(): void {
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    this.queue.length = 0;
    this.byUser.clear();
    this.head = 0;
  }

  private drain(now: number): void {
    while (this.head < this.queue.length) {
      const next = this.queue[this.head];
      if (next.sessions.every((s) => s.gone())) {
        this.shift();
        continue;
      }
      if (this.take(now)) {
        this.shift();
        admitAll(next);
        continue;
      }
      if (now - next.since >= this.o.maxWaitMs) {
        this.overflowed++;
        this.shift();
        admitAll(next);
        continue;
      }
      break;
    }
  }

  /** A turn now, if both the window and the bucket have one. */
  private take(now: number): boolean {
    if (this.windowWaitMs(now) > 0 || !this.bucket.tryTake(now)) return false;
    this.window[this.next] = now;
    this.next = (this.next + 1) % this.window.length;
    this.filled = Math.min(this.filled + 1, this.window.length);
    return true;
  }

  /** Until the oldest turn of a full window is a second old. */
  private windowWaitMs(now: number): number {
    if (this.filled < this.window.length) return 0;
    return Math.max(0, this.window[this.next] + 1000 - now);
  }

  private shift(): void {
    this.byUser.delete(this.queue[this.head].user);
    this.queue[this.head] = undefined as never;
    this.head++;
    // Compact once the consumed half outweighs the rest: amortised O(1) per socket.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }

  private schedule(now: number): void {
    if (this.waiting === 0) return;
    const first = this.queue[this.head];
    const turn = Math.max(this.bucket.waitMs(now), Math.ceil(this.windowWaitMs(now)));
    const at = now + Math.max(1, Math.min(turn, first.since + this.o.maxWaitMs - now));
    if (this.timer !== undefined && this.timerAt <= at) return;
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      const t = this.o.clock.now();
      this.drain(t);
      this.schedule(t);
    }, at - now);
  }
}

function admitAll(w: Waiting): void {
  for (const s of w.sessions) if (!s.gone()) s.admit();
}
