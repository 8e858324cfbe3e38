import { every, type Clock } from './clock.js';
import type { Logger, MemberRecord, MemberState, Membership } from './types.js';

export interface RegistrationOptions {
  id: string;
  weight: number;
  /** Moved users per second this node accepts (its receiver budget, in its record). */
  acceptRate: number;
  heartbeatMs: number;
  clock: Clock;
  logger: Logger;
  /** Told of every failed heartbeat (a metric counts them). */
  onFailure?: () => void;
  /** Connections held and capacity, written with every heartbeat. */
  load?: () => { connections: number; capacity: number };
}

/**
 * This node's own membership record: registers it, refreshes it every `heartbeatMs` (the heartbeat other
 * agents judge liveness by), moves it through joining -> active -> draining, and notices another process
 * heartbeating the same id. Heartbeats go out on a fixed interval and do not wait for each other: a put
 * stuck in a store outage must not delay the next.
 */
export class Registration {
  readonly record: MemberRecord;
  private stopBeating: (() => void) | undefined;
  private failing = false;
  private failures = 0;
  private consecutive = 0;
  private duplicateReported = false;
  private closed = false;

  constructor(private readonly membership: Membership, private readonly o: RegistrationOptions) {
    this.record = { id: o.id, url: '', weight: o.weight, state: 'joining', startedAt: Math.round(o.clock.now()), seq: 0, acceptRate: o.acceptRate };
  }

  get state(): MemberState {
    return this.record.state;
  }

  /** Whether the latest heartbeat failed to reach the store. */
  get heartbeatFailing(): boolean {
    return this.failing;
  }

  /** Heartbeats that failed in a row, up to now. */
  get consecutiveFailures(): number {
    return this.consecutive;
  }

  /** Heartbeats that failed since start. */
  get heartbeatFailures(): number {
    return this.failures;
  }

  /** First write of the record (throws if the store refuses it), then heartbeats on the clock. */
  async register(url: string): Promise<void> {
    this.record.url = url;
    await this.membership.put(this.record);
  }

  startHeartbeats(): void {
    this.stopBeating ??= every(this.o.clock, this.o.heartbeatMs, () => void this.beat());
  }

  /** Change the recorded state and tell the fleet at once. */
  async setState(state: MemberState): Promise<void> {
    if (this.record.state === state) return;
    this.record.state = state;
    await this.beat();
  }

  /** Write the record now; failures are logged once per outage, not thrown. */
  async beat(): Promise<void> {
    if (this.closed) return;
    this.record.seq++;
    if (this.o.load) Object.assign(this.record, this.o.load());
    try {
      await this.membership.put(this.record);
      if (this.failing) this.o.logger.info({}, 'heartbeat restored');
      this.failing = false;
      this.consecutive = 0;
    } catch (err) {
      this.failures++;
      this.consecutive++;
      this.o.onFailure?.();
      if (!this.failing) this.o.logger.warn({ err: String(err) }, 'heartbeat failed');
      this.failing = true;
    }
  }

  /**
   * A record under this node's id arrived. One from another process (other start time or URL) means two
   * agents share the id: the fleet would flap between their URLs. Said once, loudly.
   */
  observe(record: MemberRecord): void {
    // A predecessor restarting in place (its record asks to be held) is no duplicate: this process follows it.
    if (record.id !== this.record.id || record.holdMs !== undefined) return;
    if (record.startedAt === this.record.startedAt && record.url === this.record.url) return;
    if (!this.duplicateReported) this.o.logger.error({ other: record.url, startedAt: record.startedAt }, 'another agent uses this node id');
    this.duplicateReported = true;
  }

  /**
   * The last write of a process that restarts in place: the fleet keeps the member `holdMs` after it arrives.
   * Heartbeats stop; the record stays for the next process to take over.
   */
  async hold(holdMs: number): Promise<void> {
    this.stop();
    this.record.seq++;
    this.record.holdMs = holdMs;
    this.closed = false;
    try {
      await this.membership.put(this.record);
    } finally {
      this.closed = true;
    }
  }

  /** Stop heartbeating and remove the record (best effort). */
  async deregister(): Promise<void> {
    this.stop();
    await this.membership.remove(this.record.id).catch((err) => this.o.logger.warn({ err: String(err) }, 'deregistration failed'));
  }

  stop(): void {
    this.closed = true;
    this.stopBeating?.();
    this.stopBeating = undefined;
  }
}
