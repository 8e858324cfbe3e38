// One sending agent under the receiver-budget policy: the agent's own lane scheduling (`LaneSchedule`, which its
// Pacer runs: a lane per receiver at this sender's share, `laneBurst(share)` tokens deep, the sender's ceiling on top,
// lanes taking turns) over counts of users instead of user ids. What is modelled here is only the agent's timer: the
// pump runs on a clock of whole milliseconds (the model's ticks are whole milliseconds), sends while tokens allow,
// then sleeps for what the schedule says (at least 1 ms); users that become ready while it sleeps wait for it to
// wake; while it is idle every user that becomes ready pumps at once, one after the other, as the agent's `ready`
// does. The one difference is when users become ready: the agent draws each user's jitter in whole ms, the model
// spreads them over its ticks (all of a tick's at its start).
import { LaneSchedule } from '@wsring/node-agent/internal';

/** A lane's queue: users past their jitter, waiting for a token. */
interface Count {
  queued: number;
}

export class LanePacer {
  private readonly schedule: LaneSchedule<number, Count>;
  /** When the pump runs next, ms; null while idle. */
  private wakeAt: number | null = null;

  /** `shareOf(to)`: this sender's share of `to`'s budget now, read when a lane opens or is re-rated. */
  constructor(ratePerSec: number, burst: number, now: number, shareOf: (to: number) => number) {
    this.schedule = new LaneSchedule<number, Count>({ ratePerSec, burst, shareOf, newQueue: () => ({ queued: 0 }), hasReady: (lane) => lane.queue.queued > 0 }, now);
  }

  /** `count` users ready for `to` at `now` (past their jitter) join its lane, opened now if new. */
  enqueue(to: number, count: number, now: number, send: (to: number, at: number) => void): void {
    const lane = this.schedule.lane(to, now);
    for (; count > 0 && this.wakeAt === null; count--) this.add(lane.queue, 1).pump(now, send);
    if (count > 0) this.add(lane.queue, count);
  }

  /** Users join a lane's queue; one that was empty now has someone ready. */
  private add(queue: Count, count: number): this {
    if (queue.queued === 0) this.schedule.changed();
    queue.queued += count;
    return this;
  }

  /** A new change: every open lane takes this sender's new share, keeping its tokens (Pacer.rerate). */
  rerate(now: number): void {
    this.schedule.rerate(now);
  }

  /** Whether the pump will run again without a user becoming ready (it sleeps, not idle). */
  get awake(): boolean {
    return this.wakeAt !== null;
  }

  /** Runs the pump until `until` (exclusive, ms); `send(to, at)` for every frame, at the ms it goes. */
  run(until: number, send: (to: number, at: number) => void): void {
    while (this.wakeAt !== null && this.wakeAt < until) this.pump(this.wakeAt, send);
  }

  /** Pacer.pump at `now`: send while tokens allow, then sleep until the first token, or go idle. */
  private pump(now: number, send: (to: number, at: number) => void): void {
    const wait = this.schedule.pump(
      () => now,
      (lane) => {
        lane.queue.queued--;
        send(lane.to, now);
      },
    );
    this.wakeAt = wait === null ? null : now + wait;
  }
}
