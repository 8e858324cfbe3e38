import type { Clock } from './clock.js';
import { LaneSchedule, type Lane } from './lane-schedule.js';

export interface PacerOptions {
  /** This sender's ceiling, all receivers together. */
  ratePerSec: number;
  burst: number;
  jitterMs: number;
  clock: Clock;
  /** Uniform in [0, 1). Injectable for reproducible tests. */
  random?: () => number;
}

/** A lane's queue: users in the order they became ready; entries cancelled or retargeted since are skipped. */
interface ReadyQueue {
  users: string[];
  head: number;
}

/**
 * Sends targeted reconnects, each to its target node, at a bounded rate per receiver and overall. Each queued
 * user first waits a random jitter (so the fleet's agents do not fire in lockstep), then waits in its target's
 * lane for a token of that lane (this sender's share of the receiver's budget; `laneBurst` tokens of burst) and
 * a token of the sender's own bucket. Lanes take turns. Token buckets alone decide when a send happens, so the
 * bounds hold whatever the jitter: to receiver R at most share(R) * T + laneBurst(share(R)) over any interval T,
 * overall at most burst + ratePerSec * T. The lanes, their buckets and their turns are a `LaneSchedule` (shared with
 * the simulator); the Pacer keeps the users, the jitter and the timer.
 */
export class Pacer {
  private readonly schedule: LaneSchedule<string, ReadyQueue>;
  /** Queued users and where each goes now (a later plan may retarget one). */
  private readonly targets = new Map<string, string>();
  private readonly waiting = new Map<string, unknown>();
  private timer: unknown = undefined;
  private readonly random: () => number;
  private onIdle: (() => void) | undefined;

  constructor(
    private readonly options: PacerOptions,
    private readonly send: (userId: string, to: string) => void,
    /** This sender's share of a receiver's budget, moves per second, read when a lane opens or is re-rated. */
    shareOf: (to: string) => number = () => options.ratePerSec,
  ) {
    this.schedule = new LaneSchedule<string, ReadyQueue>(
      { ratePerSec: options.ratePerSec, burst: options.burst, shareOf, newQueue: () => ({ users: [], head: 0 }), hasReady: (lane) => this.trim(lane) },
      options.clock.now(),
    );
    this.random = options.random ?? Math.random;
  }

  /** Users waiting for jitter or a token. */
  get pending(): number {
    return this.targets.size;
  }

  /** Every queued user. */
  queuedUsers(): string[] {
    return [...this.targets.keys()];
  }

  /** Where a queued user goes, if it is queued. */
  targetOf(userId: string): string | undefined {
    return this.targets.get(userId);
  }

  /** Users queued for each receiver, with this sender's rate to it. */
  lanesSnapshot(): { to: string; queued: number; ratePerSec: number }[] {
    const counts = new Map<string, number>();
    for (const to of this.targets.values()) counts.set(to, (counts.get(to) ?? 0) + 1);
    return [...counts].map(([to, queued]) => ({ to, queued, ratePerSec: Math.min(this.lane(to).ratePerSec, this.options.ratePerSec) }));
  }

  /** Queue a user for `to`; a user already queued is retargeted, not queued twice. */
  enqueue(userId: string, to: string): void {
    const queuedFor = this.targets.get(userId);
    this.targets.set(userId, to);
    if (queuedFor !== undefined) {
      if (queuedFor !== to && !this.waiting.has(userId)) this.ready(userId);
      return;
    }
    const jitter = this.options.jitterMs > 0 ? Math.floor(this.random() * this.options.jitterMs) : 0;
    if (jitter === 0) {
      this.ready(userId);
      return;
    }
    const handle = this.options.clock.setTimeout(() => {
      this.waiting.delete(userId);
      this.ready(userId);
    }, jitter);
    this.waiting.set(userId, handle);
  }

  /** Re-read every open lane's share (a new plan changed the budgets). */
  rerate(): void {
    this.schedule.rerate(this.options.clock.now());
  }

  /** Drop a user from the queue (it left on its own). */
  cancel(userId: string): void {
    if (!this.targets.delete(userId)) return;
    const handle = this.waiting.get(userId);
    if (handle !== undefined) {
      this.options.clock.clearTimeout(handle);
      this.waiting.delete(userId);
    }
    // A cancelled id left in a lane is skipped when its turn comes.
    this.schedule.changed();
    this.checkIdle();
  }

  /** Called once every queued user has been sent or cancelled. */
  whenIdle(fn: () => void): void {
    this.onIdle = fn;
    this.checkIdle();
  }

  /**
   * Empty the queue without sending: every queued user with its target and the slot it would have had in its
   * lane at the lane's rate (ms from now: the k-th user (from 0) of a lane of rate r gets (k + 1 - t) x 1000 / r, t the
   * tokens its bucket holds now, at most 1: the lane's bound holds across the paced sends and the remainder).
   */
  takeAll(): { userId: string; to: string; slotMs: number }[] {
    const taken: { userId: string; to: string; slotMs: number }[] = [];
    const counts = new Map<string, number>();
    const now = this.options.clock.now();
    for (const [userId, to] of this.targets) {
      const k = counts.get(to) ?? 0;
      counts.set(to, k + 1);
      const lane = this.lane(to);
      // The slots continue the lane's bucket: users it just sent used its burst, so the first slot waits for a token.
      const ahead = k + 1 - Math.min(1, lane.bucket.available(now));
      taken.push({ userId, to, slotMs: Math.max(0, Math.ceil((ahead * 1000) / Math.min(lane.ratePerSec, this.options.ratePerSec))) });
    }
    this.stop();
    return taken;
  }

  stop(): void {
    for (const h of this.waiting.values()) this.options.clock.clearTimeout(h);
    this.waiting.clear();
    this.schedule.clear();
    this.targets.clear();
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private lane(to: string): Lane<string, ReadyQueue> {
    return this.schedule.lane(to, this.options.clock.now());
  }

  private ready(userId: string): void {
    const to = this.targets.get(userId);
    if (to === undefined) return;
    this.lane(to).queue.users.push(userId);
    this.schedule.changed();
    this.pump();
  }

  /** Drop users from the front of a lane that were cancelled or retargeted elsewhere; whether one is left. */
  private trim(lane: Lane<string, ReadyQueue>): boolean {
    const q = lane.queue;
    while (q.head < q.users.length && this.targets.get(q.users[q.head]) !== lane.to) q.head++;
    if (q.head < q.users.length) return true;
    q.users = [];
    q.head = 0;
    return false;
  }

  private pump(): void {
    if (this.timer !== undefined) return;
    const clock = this.options.clock;
    const wait = this.schedule.pump(
      () => clock.now(),
      (lane) => {
        const userId = lane.queue.users[lane.queue.head++];
        this.targets.delete(userId);
        this.send(userId, lane.to);
      },
    );
    if (wait === null) {
      this.checkIdle();
      return;
    }
    this.timer = clock.setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, wait);
  }

  private checkIdle(): void {
    if (this.targets.size === 0 && this.onIdle) {
      const fn = this.onIdle;
      this.onIdle = undefined;
      fn();
    }
  }
}
