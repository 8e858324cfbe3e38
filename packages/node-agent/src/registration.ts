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
  /** Written with each heartbeat: the node's load and the accept rate it declares now (it warms up). */
  load?: () => { connections: number; capacity: number; acceptRate?: number };
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
  /**
   * Handoff deploys: 'successor' while this process waits under `successors.<id>` for the serving one to hand
   * over; 'handed-over' once this (old) process gave the id's record to its successor. Else 'member'.
   */
  private role: 'member' | 'successor' | 'handed-over' = 'member';
  /** Successor only: when (own clock) the predecessor's record last arrived. */
  private predecessorSeen = 0;

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

  /** Whether this process waits to succeed the one serving its id. */
  get isSuccessor(): boolean {
    return this.role === 'successor';
  }

  /**
   * Register, or, when another process serves this id (its record written within `livenessMs` of ours, not
   * restarting in place), wait as its successor under `successors.<id>`: the fleet keeps placing the id on the
   * serving process until it hands over (docs/operations.md, "Handoff deploys"). Returns the role taken.
   */
  async claim(url: string, livenessMs: number): Promise<'member' | 'successor'> {
    const m = this.membership;
    if (!m.putSuccessor || !m.readRecords || !m.removeSuccessor) {
      await this.register(url);
      return 'member';
    }
    this.record.url = url;
    await m.putSuccessor(this.record);
    const { member, successor } = await m.readRecords(this.record.id);
    const serving =
      member !== undefined && successor !== undefined && member.record.holdMs === undefined && member.record.url !== url &&
      successor.writtenAt - member.writtenAt < livenessMs;
    if (serving) {
      this.role = 'successor';
      this.predecessorSeen = this.o.clock.now();
      this.o.logger.info({ serving: member.record.url }, 'another process serves this node id: waiting as its successor until it hands over');
      return 'successor';
    }
    await m.removeSuccessor(this.record.id);
    await this.register(url);
    return 'member';
  }

  /** Successor only: the predecessor has been silent this long (own clock), or Infinity if not a successor. */
  predecessorSilentMs(): number {
    return this.role === 'successor' ? this.o.clock.now() - this.predecessorSeen : 0;
  }

  /**
   * Successor: take the id's record (the predecessor handed it over, or is gone). From now on heartbeats write
   * `members.<id>`; the successor record goes.
   */
  async takeOver(state: MemberState): Promise<void> {
    if (this.role !== 'successor') return;
    this.role = 'member';
    this.record.state = state;
    await this.beat();
    await this.membership.removeSuccessor?.(this.record.id).catch((err) => this.o.logger.warn({ err: String(err) }, 'could not remove the successor record'));
  }

  /** A live successor's record, if one heartbeats within `livenessMs` of this node's own latest record. */
  async liveSuccessor(livenessMs: number): Promise<MemberRecord | undefined> {
    const read = this.membership.readRecords;
    if (!read) return undefined;
    const { member, successor } = await read.call(this.membership, this.record.id);
    if (!successor || successor.record.url === this.record.url) return undefined;
    const ownWrite = member?.writtenAt ?? successor.writtenAt;
    return Math.abs(ownWrite - successor.writtenAt) < livenessMs ? successor.record : undefined;
  }

  /**
   * Old process of a handoff: stop heartbeating and write the successor's record as the id's record (state
   * active, a newer seq). The successor sees its own record there and takes over the heartbeats.
   */
  async handOver(successor: MemberRecord): Promise<void> {
    this.stop();
    this.role = 'handed-over';
    await this.membership.put({ ...successor, id: this.record.id, state: 'active', seq: Math.max(successor.seq, this.record.seq) + 1 });
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
      if (this.role === 'successor' && this.membership.putSuccessor) await this.membership.putSuccessor(this.record);
      else await this.membership.put(this.record);
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
   * agents share the id: the fleet would flap between their URLs. Said once, loudly. A successor hears its
   * predecessor's heartbeats here; returns true when the record is the successor's own, handed over to it.
   */
  observe(record: MemberRecord): boolean {
    if (record.id !== this.record.id || this.role === 'handed-over') return false;
    if (this.role === 'successor') {
      // Our own record under the id: the predecessor handed over. Anything else is the predecessor serving.
      if (record.startedAt === this.record.startedAt && record.url === this.record.url) return true;
      this.predecessorSeen = this.o.clock.now();
      return false;
    }
    // A predecessor restarting in place (its record asks to be held) is no duplicate: this process follows it.
    if (record.holdMs !== undefined) return false;
    if (record.startedAt === this.record.startedAt && record.url === this.record.url) return false;
    if (!this.duplicateReported) this.o.logger.error({ other: record.url, startedAt: record.startedAt }, 'another agent uses this node id');
    this.duplicateReported = true;
    return false;
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

  /** Stop heartbeating and remove the record (best effort): a successor's own, a handed-over id's nothing. */
  async deregister(): Promise<void> {
    this.stop();
    if (this.role === 'handed-over') return;
    const remove = this.role === 'successor' ? this.membership.removeSuccessor?.(this.record.id) : this.membership.remove(this.record.id);
    await remove?.catch((err) => this.o.logger.warn({ err: String(err) }, 'deregistration failed'));
  }

  stop(): void {
    this.closed = true;
    this.stopBeating?.();
    this.stopBeating = undefined;
  }
}
