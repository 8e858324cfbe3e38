import { createRing, type NodeSpec, type Ring, type RingOptions } from '@wsring/ring';
import type { TopologyNode } from '@wsring/protocol';
import type { Clock } from './clock.js';
import { MemberTable, type FreezeReason } from './liveness.js';
import type { MemberRecord, MembershipEvent } from './types.js';

/** What placement depends on: members in state joining or active, with weight and URL. */
export function placementMembers(members: readonly MemberRecord[]): MemberRecord[] {
  return members.filter((m) => m.state !== 'draining');
}

/** A string equal for two member lists exactly when their rings and advertised URLs are equal. */
export function placementSignature(members: readonly MemberRecord[]): string {
  return placementMembers(members)
    .map((m) => `${m.id}|${m.weight}|${m.url}`)
    .join('\n');
}

/**
 * What agents act on at once in a member's record: what clients see (the node list of /topology) and the rate
 * senders pace to (a warming node raises it with each heartbeat, and senders re-rate their lanes to it).
 */
const viewOf = (m: MemberRecord): string => `${m.id}|${m.weight}|${m.url}|${m.state}|${m.acceptRate}`;

export function nodeSpecs(members: readonly MemberRecord[]): NodeSpec[] {
  return placementMembers(members).map((m) => ({ id: m.id, weight: m.weight, meta: { url: m.url } }));
}

export function topologyNodes(members: readonly MemberRecord[]): TopologyNode[] {
  return members.map((m) => ({ id: m.id, url: m.url, weight: m.weight, state: m.state }));
}

/** Build the ring every agent derives from the same member set. */
export function buildRing(members: readonly MemberRecord[], options: RingOptions | undefined): Promise<Ring> {
  return createRing(nodeSpecs(members), options);
}

export interface SettledMembers {
  members: MemberRecord[];
  signature: string;
}

/**
 * Turns membership events into settled member sets. A change opens a settle window of `settleMs`;
 * everything that happens inside it lands in one settled set, so several joins cause one rebalance.
 * A change that reverts within the window (a member that vanished and came back) causes none.
 */
export class TopologyTracker {
  readonly table: MemberTable;
  private settledSignature: string | undefined;
  private viewSignature = '';
  private settleTimer: unknown = undefined;
  private tickTimer: unknown = undefined;
  private synced = false;
  private stopped = false;

  constructor(
    private readonly options: {
      settleMs: number;
      livenessTimeoutMs: number;
      heartbeatMs: number;
      clock: Clock;
      /** This agent's id: its own heartbeats arriving prove the store delivers (see `MemberTable`). Unset: no proof needed. */
      self?: string;
    },
    private readonly onSettled: (s: SettledMembers) => void,
    /** Any change to the live records, placement-relevant or not (state changes, URLs). */
    private readonly onMembersChanged: (members: MemberRecord[]) => void = () => {},
  ) {
    // Two missed own heartbeats (plus half a period of jitter) and the store counts as unhealthy.
    this.table = new MemberTable(options.livenessTimeoutMs, options.self, options.heartbeatMs * 2.5);
  }

  get isSynced(): boolean {
    return this.synced;
  }

  /** Why placement is frozen now (liveness not judged), or undefined. */
  get frozen(): FreezeReason | undefined {
    return this.table.frozen(this.options.clock.now());
  }

  get members(): MemberRecord[] {
    return this.table.list();
  }

  handle(event: MembershipEvent): void {
    if (this.stopped) return;
    const now = this.options.clock.now();
    switch (event.type) {
      case 'put': {
        const before = this.table.get(event.record.id);
        this.table.heartbeat(event.record, now, event.ageMs);
        // A heartbeat that changes nothing clients or placement see needs no look at the whole table: with many
        // members, every heartbeat sorting and signing all of them would starve the agent's other work.
        const after = this.table.get(event.record.id);
        if (this.settledSignature !== undefined && before && after && viewOf(before) === viewOf(after)) return;
        break;
      }
      case 'ignored':
        return;
      case 'delete':
        this.table.remove(event.id);
        break;
      case 'disconnected':
        this.table.suspend();
        return;
      case 'reconnected':
        this.table.resume(now);
        break;
      case 'synced':
        this.synced = true;
        this.startTicking();
        // The first topology needs no window: there is nothing to batch against yet.
        this.settleNow();
        return;
      case 'topology':
        return;
    }
    if (this.synced) this.changed();
  }

  /** The served ring no longer comes from the last settled set (it was adopted from peers): settle again on the next event. */
  unsettle(): void {
    this.settledSignature = undefined;
  }

  /** Check liveness now (also runs on its own ticker). */
  tick(): void {
    if (this.table.expire(this.options.clock.now()).length > 0) this.changed();
  }

  stop(): void {
    this.stopped = true;
    if (this.settleTimer !== undefined) this.options.clock.clearTimeout(this.settleTimer);
    if (this.tickTimer !== undefined) this.options.clock.clearTimeout(this.tickTimer);
  }

  private startTicking(): void {
    const every = Math.max(20, Math.floor(this.options.heartbeatMs / 4));
    const loop = () => {
      if (this.stopped) return;
      this.tick();
      this.tickTimer = this.options.clock.setTimeout(loop, every);
    };
    this.tickTimer = this.options.clock.setTimeout(loop, every);
  }

  private changed(): void {
    const members = this.table.list();
    const view = members.map(viewOf).join('\n');
    if (view !== this.viewSignature) {
      this.viewSignature = view;
      this.onMembersChanged(members);
    }
    if (placementSignature(members) === this.settledSignature) return;
    if (this.settleTimer !== undefined) return;
    this.settleTimer = this.options.clock.setTimeout(() => {
      this.settleTimer = undefined;
      this.settleNow();
    }, this.options.settleMs);
  }

  private settleNow(): void {
    const members = this.table.list();
    const signature = placementSignature(members);
    if (signature === this.settledSignature) return;
    this.settledSignature = signature;
    this.onSettled({ members, signature });
  }
}
