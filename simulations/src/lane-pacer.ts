// One sending agent under the receiver-budget policy: the agent's Pacer (packages/node-agent/src/pacer.ts) over
// counts of users instead of user ids. One lane per receiver, a token bucket of this sender's share of the
// receiver's accept rate and `laneBurst(share)` tokens deep (the agent's); the sender's own bucket (ratePerSec,
// burst) on top; lanes take turns.
// The buckets are the agent's own TokenBucket. The pump runs as the agent's does on a clock of whole milliseconds
// (the model's ticks are whole milliseconds): it sends while a lane and the sender both have a token, then sleeps
// until the first of them will (TokenBucket.waitMs, at least 1 ms); users that become ready while it sleeps wait
// for it to wake; while it is idle every user that becomes ready pumps at once, one after the other. A lane saves
// up what it earns while the pump sleeps, so a backlogged lane sends at its share, above 1,000/s too, as the agent
// does. The one difference is when users become ready: the agent draws each
// user's jitter in whole ms, the model spreads them over its ticks (all of a tick's at its start).
import { TokenBucket, laneBurst } from '@wsring/node-agent/internal';

interface Lane {
  to: number;
  ratePerSec: number;
  bucket: TokenBucket;
  /** Users past their jitter, waiting for a token. */
  queued: number;
}

export class LanePacer {
  /** Every lane opened, in the order it opened (the agent's Map order); never removed, as in the agent. */
  private readonly lanes: Lane[] = [];
  private readonly byTo = new Map<number, Lane>();
  private readonly bucket: TokenBucket;
  private turn = 0;
  /** When the pump runs next, ms; null while idle. */
  private wakeAt: number | null = null;
  /** Lanes with users queued, in lane order; null when it has to be worked out again. */
  private open: Lane[] | null = [];
  queued = 0;

  constructor(ratePerSec: number, burst: number, now: number) {
    this.bucket = new TokenBucket(ratePerSec, burst, now);
  }

  /**
   * Users ready for `to` at `now` (past their jitter) join its lane, opened at this sender's share if new. While the
   * pacer is idle each one pumps at once, as the agent's `ready` does; once it sleeps the rest just queue.
   */
  enqueue(to: number, count: number, now: number, share: number, send: (to: number, at: number) => void): void {
    let lane = this.byTo.get(to);
    if (!lane) {
      lane = { to, ratePerSec: share, bucket: new TokenBucket(share, laneBurst(share), now), queued: 0 };
      this.lanes.push(lane);
      this.byTo.set(to, lane);
    }
    while (count > 0 && this.wakeAt === null) {
      this.add(lane, 1);
      count--;
      this.pump(now, send);
    }
    if (count > 0) this.add(lane, count);
  }

  private add(lane: Lane, count: number): void {
    if (lane.queued === 0) this.open = null;
    lane.queued += count;
    this.queued += count;
  }

  /** A new change: every open lane takes this sender's new share, keeping its token (Pacer.rerate). */
  rerate(now: number, shareOf: (to: number) => number): void {
    for (const lane of this.lanes) {
      const rate = shareOf(lane.to);
      if (rate !== lane.ratePerSec) {
        lane.ratePerSec = rate;
        lane.bucket = new TokenBucket(rate, laneBurst(rate), now, lane.bucket.available(now));
      }
    }
  }

  /** Whether the pump will run again without a user becoming ready (it sleeps, not idle). */
  get awake(): boolean {
    return this.wakeAt !== null;
  }

  /** Runs the pump until `until` (exclusive, ms); `send(to, at)` for every frame, at the ms it goes. */
  run(until: number, send: (to: number, at: number) => void): void {
    while (this.wakeAt !== null && this.wakeAt < until) this.pump(this.wakeAt, send);
  }

  private openLanes(): Lane[] {
    return (this.open ??= this.lanes.filter((l) => l.queued > 0));
  }

  /** Pacer.pump at `now`: send while tokens allow, then sleep until the first token, or go idle. */
  private pump(now: number, send: (to: number, at: number) => void): void {
    for (;;) {
      const open = this.openLanes();
      if (open.length === 0) {
        this.wakeAt = null;
        return;
      }
      let wait = Infinity;
      let sent = false;
      for (let i = 0; i < open.length; i++) {
        const lane = open[(this.turn + i) % open.length];
        const laneWait = lane.bucket.waitMs(now);
        if (laneWait > 0) {
          wait = Math.min(wait, laneWait);
          continue;
        }
        const senderWait = this.bucket.waitMs(now);
        if (senderWait > 0) {
          wait = senderWait;
          break;
        }
        lane.bucket.tryTake(now);
        this.bucket.tryTake(now);
        lane.queued--;
        this.queued--;
        if (lane.queued === 0) this.open = null;
        this.turn = (this.turn + i + 1) % Math.max(1, open.length);
        send(lane.to, now);
        sent = true;
        break;
      }
      if (sent) continue;
      this.wakeAt = now + Math.max(1, wait);
      return;
    }
  }
}
