// A receiving node's admission gate (the agent's AdmissionGate) in the storm model's ticks and counts. The node's
// accept capacity takes a connection attempt; the agent then holds the user first in first out and admits it at its
// turn: at most rate + gateBurst(rate) turns in any one second (here: any `ticksPerSec` consecutive ticks), and a
// token bucket of the rate CATCH_UP_MS deep, `rate` being what the node declares now (lower while it warms up). A
// user waits at most `maxWaitMs`, then passes anyway (an overflow); one arriving while more wait than the gate admits
// within `maxWaitMs` passes at once (an overflow too). Counts per tick, FIFO by tick: the model orders nothing within
// a tick. The agent's own arithmetic and constants; the model only quantizes time to ticks, and never lets a user
// wait past `maxWaitMs` (the last tick within it lets it through).
import { gateBurst, gateDepth, gateWindow } from '@wsring/node-agent/internal';

/** Users that entered the gate in one tick, for one owner (see the storm model's Pending). */
interface Waiting {
  since: number;
  owner: number;
  count: number;
}

/** What the gate lets through: `count` users of `owner` after `waitedMs`; `overflow`: without a turn. */
export type GateAdmit = (owner: number, count: number, waitedMs: number, overflow: boolean) => void;

/** A receiver's gate figures over a step. */
export interface GateFigures {
  /** Most users admitted (turns and overflows) in any one-second window of ticks: what the agent counts as arrivals. */
  peakAdmittedPerSec: number;
  /** Users that waited at all (admitted at a later tick than they came, or let through past their wait). */
  waited: number;
  /** Longest wait of a user, ms. */
  longestWaitMs: number;
  /** Users let through without a turn: past maxWaitMs, or arriving at a full queue. */
  overflowed: number;
}

export class ReceiverGate {
  private rate: number;
  private tokens: number;
  private tokensAt: number;
  /** Turns per tick over the last second (ring by tick), and their sum. */
  private readonly turns: number[];
  private turnsSum = 0;
  /** Admissions per tick (turns and overflows) over the last second, for the peak the agent would measure. */
  private readonly admitted: number[];
  private admittedSum = 0;
  private lastTick: number;
  private readonly queue: Waiting[] = [];
  private head = 0;
  /** Users waiting now. */
  waiting = 0;
  figures: GateFigures = { peakAdmittedPerSec: 0, waited: 0, longestWaitMs: 0, overflowed: 0 };

  /**
   * @param configured the node's acceptRate (it sizes the window; setRate never goes above it).
   * @param fresh a gate just made (a new process): its bucket holds one burst, as the agent's starts; else a full one.
   */
  constructor(
    private readonly configured: number,
    private readonly maxWaitMs: number,
    private readonly tickMs: number,
    tick: number,
    fresh: boolean,
  ) {
    this.rate = configured;
    this.tokens = fresh ? Math.min(this.depth, gateBurst(configured)) : this.depth;
    this.tokensAt = tick * tickMs;
    const ticksPerSec = Math.round(1000 / tickMs);
    this.turns = new Array<number>(ticksPerSec).fill(0);
    this.admitted = new Array<number>(ticksPerSec).fill(0);
    this.lastTick = tick;
  }

  /** A new process takes over the node at `tick`: a fresh bucket and window, the users waiting stay (FIFO). */
  restart(tick: number): void {
    this.advance(tick);
    this.rate = this.configured;
    this.tokens = Math.min(this.depth, gateBurst(this.configured));
    this.tokensAt = tick * this.tickMs;
    this.turns.fill(0);
    this.turnsSum = 0;
  }

  /** The node declares `rate` now (Agent.declareAcceptRate -> AdmissionGate.setRate). */
  setRate(tick: number, rate: number): void {
    this.refill(tick);
    this.rate = Math.min(this.configured, Math.max(Number.MIN_VALUE, rate));
    this.tokens = Math.min(this.tokens, this.depth);
  }

  /** The turns and overflows due at `tick`, first in first out. */
  drain(tick: number, admit: GateAdmit): void {
    this.advance(tick);
    while (this.head < this.queue.length) {
      const next = this.queue[this.head];
      const waitedMs = (tick - next.since) * this.tickMs;
      const turns = Math.min(next.count, this.available(tick));
      if (turns > 0) {
        this.take(tick, turns);
        next.count -= turns;
        this.waiting -= turns;
        if (next.count === 0) this.shift();
        this.let(tick, next.owner, turns, waitedMs, false, admit);
        continue;
      }
      // Waiting on to the next tick would be past maxWaitMs: the agent's timer lets it through within it.
      if (waitedMs + this.tickMs > this.maxWaitMs) {
        const { owner, count } = next;
        this.waiting -= count;
        next.count = 0;
        this.shift();
        this.let(tick, owner, count, waitedMs, true, admit);
        continue;
      }
      break;
    }
  }

  /** `count` users of `owner` reach the gate at `tick` (the node's capacity took them): each passes, waits or overflows. */
  enter(tick: number, owner: number, count: number, admit: GateAdmit): void {
    if (count <= 0) return;
    this.drain(tick, admit);
    let rest = count;
    if (this.waiting === 0) {
      const now = Math.min(rest, this.available(tick));
      if (now > 0) {
        this.take(tick, now);
        this.let(tick, owner, now, 0, false, admit);
        rest -= now;
      }
    }
    // More wait than the gate admits within maxWaitMs: newcomers would be let through past their wait anyway.
    const room = Math.max(0, Math.ceil((this.rate * this.maxWaitMs) / 1000) - this.waiting);
    const queued = Math.min(rest, room);
    if (rest > queued) this.let(tick, owner, rest - queued, 0, true, admit);
    if (queued === 0) return;
    this.queue.push({ since: tick, owner, count: queued });
    this.waiting += queued;
    // A wait shorter than a tick ends within this one.
    this.drain(tick, admit);
  }

  /** Everyone waiting, taken out (the node went down: their sockets close), by owner and count. */
  flush(): { owner: number; count: number }[] {
    const out = this.queue.slice(this.head).map((w) => ({ owner: w.owner, count: w.count }));
    this.queue.length = 0;
    this.head = 0;
    this.waiting = 0;
    return out;
  }

  /** Starts a step's figures afresh. */
  resetFigures(): void {
    this.figures = { peakAdmittedPerSec: 0, waited: 0, longestWaitMs: 0, overflowed: 0 };
  }

  private let(tick: number, owner: number, count: number, waitedMs: number, overflow: boolean, admit: GateAdmit): void {
    const f = this.figures;
    if (overflow) f.overflowed += count;
    if (waitedMs > 0) {
      f.waited += count;
      f.longestWaitMs = Math.max(f.longestWaitMs, waitedMs);
    }
    this.admitted[tick % this.admitted.length] += count;
    this.admittedSum += count;
    f.peakAdmittedPerSec = Math.max(f.peakAdmittedPerSec, this.admittedSum);
    admit(owner, count, waitedMs, overflow);
  }

  private get depth(): number {
    return gateDepth(this.rate);
  }

  private refill(tick: number): void {
    const now = tick * this.tickMs;
    if (now > this.tokensAt) {
      this.tokens = Math.min(this.depth, this.tokens + ((now - this.tokensAt) * this.rate) / 1000);
      this.tokensAt = now;
    }
  }

  /** Turns the window and the bucket both have at `tick`. */
  private available(tick: number): number {
    this.advance(tick);
    this.refill(tick);
    return Math.max(0, Math.min(gateWindow(this.configured, this.rate) - this.turnsSum, Math.floor(this.tokens)));
  }

  private take(tick: number, n: number): void {
    this.tokens -= n;
    this.turns[tick % this.turns.length] += n;
    this.turnsSum += n;
  }

  /** Moves the one-second windows on to end at `tick`. */
  private advance(tick: number): void {
    if (tick <= this.lastTick) return;
    const len = this.turns.length;
    for (let k = this.lastTick + 1; k <= Math.min(tick, this.lastTick + len); k++) {
      const s = k % len;
      this.turnsSum -= this.turns[s];
      this.turns[s] = 0;
      this.admittedSum -= this.admitted[s];
      this.admitted[s] = 0;
    }
    this.lastTick = tick;
  }

  private shift(): void {
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }
}
