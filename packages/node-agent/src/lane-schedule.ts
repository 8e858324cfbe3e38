import { TokenBucket } from './token-bucket.js';

/**
 * How much of its share a lane may save up beyond one token, in ms of its rate. Timers fire in whole
 * milliseconds and late under load: a lane holding one token would lose what it earned while it waited (a
 * share of 600/s ran at 500/s, none above 1,000/s). A receiver R with senders S therefore sees at most
 * A(R) x T + sum over S of (1 + share(S, R) x 50 ms) arrivals in any window T: A(R) x (T + 50 ms) + |S|. 50 ms:
 * an event loop busy with handshakes wakes tens of ms late (a real 3-node run with 20 ms paced a handoff at 60%).
 */
export const LANE_BURST_MS = 50;

/** Tokens a lane of `ratePerSec` may hold: one, plus what it earns in LANE_BURST_MS. */
export const laneBurst = (ratePerSec: number): number => 1 + (ratePerSec * LANE_BURST_MS) / 1000;

/** One receiver's lane: this sender's share of its budget, a bucket of that rate `laneBurst` deep, and the owner's queue. */
export interface Lane<K, Q> {
  readonly to: K;
  ratePerSec: number;
  bucket: TokenBucket;
  readonly queue: Q;
}

/** What a LaneSchedule is built from; the queue is the owner's (user ids for the agent, counts for the simulator). */
export interface LaneScheduleOptions<K, Q> {
  /** The sender's ceiling, all receivers together, and its bucket's depth. */
  ratePerSec: number;
  burst: number;
  /** This sender's share of a receiver's budget, moves per second, read when a lane opens or is re-rated. */
  shareOf: (to: K) => number;
  /** An empty queue for a new lane. */
  newQueue: () => Q;
  /** Whether a lane's queue holds someone ready to go now (may tidy the queue, e.g. drop cancelled entries). */
  hasReady: (lane: Lane<K, Q>) => boolean;
}

/**
 * The pacer's scheduling, without a clock or timers: one lane per receiver with a token bucket at this sender's share
 * of the receiver's budget (`laneBurst` deep), the sender's own bucket (its ceiling) on top, and lanes with someone
 * ready taking turns in the order they opened. Times are ms passed in by the owner; the owner keeps the queues and
 * sleeps for what `pump` returns. The agent's `Pacer` runs it on its clock over user ids; the simulator's storm model
 * runs it on ticks over counts of users. Over any interval T it lets at most share(R) x T + laneBurst(share(R)) go to
 * receiver R, and at most burst + ratePerSec x T overall.
 */
export class LaneSchedule<K, Q> {
  private readonly ceiling: TokenBucket;
  private readonly lanes = new Map<K, Lane<K, Q>>();
  private turn = 0;
  /** Lanes with someone ready, in the order they opened; null when it has to be worked out again. */
  private ready: Lane<K, Q>[] | null = null;

  constructor(private readonly o: LaneScheduleOptions<K, Q>, now: number) {
    this.ceiling = new TokenBucket(o.ratePerSec, o.burst, now);
  }

  /** The lane to `to`, opened now at this sender's share if it is new. */
  lane(to: K, now: number): Lane<K, Q> {
    let lane = this.lanes.get(to);
    if (!lane) {
      const ratePerSec = this.o.shareOf(to);
      lane = { to, ratePerSec, bucket: new TokenBucket(ratePerSec, laneBurst(ratePerSec), now), queue: this.o.newQueue() };
      this.lanes.set(to, lane);
    }
    return lane;
  }

  /**
   * Some lane's queue changed other than by `pump` taking from it (someone became ready, was cancelled or
   * retargeted): which lanes have someone ready is worked out again before the next send.
   */
  changed(): void {
    this.ready = null;
  }

  /** Re-read every open lane's share (a new plan changed the budgets); a lane keeps the tokens it holds. */
  rerate(now: number): void {
    for (const [to, lane] of this.lanes) {
      const rate = this.o.shareOf(to);
      if (rate !== lane.ratePerSec) {
        lane.ratePerSec = rate;
        lane.bucket = new TokenBucket(rate, laneBurst(rate), now, lane.bucket.available(now));
      }
    }
  }

  /** Close every lane (their queues with them); the sender's bucket and whose turn it is stay. */
  clear(): void {
    this.lanes.clear();
    this.ready = null;
  }

  /**
   * Lets users go while a lane with someone ready and the sender both hold a token, lanes taking turns: `take(lane)`
   * sends one of the lane's users and removes it from the queue (it may change the schedule: enqueue, cancel, clear).
   * `now()` is read before each send. Returns the ms to sleep before a token is due (at least 1: timers fire in whole
   * ms), or null when nobody is ready.
   */
  pump(now: () => number, take: (lane: Lane<K, Q>) => void): number | null {
    for (;;) {
      const at = now();
      const open = (this.ready ??= [...this.lanes.values()].filter(this.o.hasReady));
      if (open.length === 0) return null;
      let wait = Infinity;
      let lane: Lane<K, Q> | undefined;
      for (let i = 0; i < open.length; i++) {
        const candidate = open[(this.turn + i) % open.length];
        const laneWait = candidate.bucket.waitMs(at);
        if (laneWait > 0) {
          wait = Math.min(wait, laneWait);
          continue;
        }
        const senderWait = this.ceiling.waitMs(at);
        if (senderWait > 0) {
          wait = senderWait;
          break;
        }
        candidate.bucket.tryTake(at);
        this.ceiling.tryTake(at);
        this.turn = (this.turn + i + 1) % open.length;
        lane = candidate;
        break;
      }
      if (!lane) return Math.max(1, wait);
      take(lane);
      if (!this.o.hasReady(lane)) this.ready = null;
    }
  }
}
