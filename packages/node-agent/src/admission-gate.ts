import type { Clock } from './clock.js';
import { TokenBucket } from './token-bucket.js';

export interface AdmissionGateOptions {
  /** Sessions this node admits per second (its accept rate). */
  ratePerSec: number;
  /** Admissions allowed back to back on top of the rate. */
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

/**
 * The receiver's own guard on its accept rate. Senders pace their move frames so that arrivals stay within a
 * node's budget, but the clients' and the kernel's queues sit in between: a receiver whose event loop stalls (a
 * cold start, a long GC) finds the handshakes of the last second queued up and would admit them all at once.
 * Authenticated sockets therefore wait here, first in first out, until a token of `ratePerSec` (with `burst`)
 * is free: over any window T at most `burst + ratePerSec x T` users pass by token. Like the senders' budgets it
 * counts users: the sessions of a user that wait take one turn together, and a further session of a user the
 * node holds already passes at once. A socket never waits longer than `maxWaitMs` (kept under the clients'
 * connect timeout, so waiting never turns into a failover); one that would is let through, counted as an overflow.
 */
export class AdmissionGate {
  private readonly bucket: TokenBucket;
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
    this.bucket = new TokenBucket(o.ratePerSec, o.burst, o.clock.now());
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
    if (this.waiting === 0 && this.bucket.tryTake(now)) {
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
      if (this.bucket.tryTake(now)) {
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
    const at = now + Math.max(1, Math.min(this.bucket.waitMs(now), first.since + this.o.maxWaitMs - now));
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
