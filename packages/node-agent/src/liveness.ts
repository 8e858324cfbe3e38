import type { MemberRecord } from './types.js';

interface Seen {
  record: MemberRecord;
  /** On this agent's own clock: when the latest heartbeat of this member arrived. */
  lastSeen: number;
}

/** Why this agent does not judge liveness right now (placement is frozen), or undefined when it does. */
export type FreezeReason = 'store-disconnected' | 'own-heartbeat-missing' | 'not-yet-synced';

/**
 * The members this agent believes alive, judged only from heartbeats it receives, on its own clock.
 *
 * Silence says something about a member only while the store demonstrably delivers heartbeats. The proof is
 * this agent's own record: it heartbeats every `heartbeatMs` and each write comes back through the watch. While
 * its own record keeps arriving (no gap above `probeGapMs`) the store is healthy and a member silent for
 * `timeoutMs` is gone. When its own record stops arriving (the store is unreachable, slow, electing a leader,
 * or this agent cannot write) or the store connection is lost, nothing expires: a fault of the store is not a
 * fault of the fleet. Once its own record arrives again every member gets a fresh `timeoutMs` to show its next
 * heartbeat, so a fleet that was quiet because the store was is never mistaken for a dead one.
 */
export class MemberTable {
  private readonly members = new Map<string, Seen>();
  private suspended = false;
  /** When this agent's own record last arrived, on its own clock; undefined until the first. */
  private selfSeen: number | undefined;
  private probeLost = false;

  /**
   * @param timeoutMs a member silent this long while the store is healthy is gone.
   * @param self this agent's id, whose records prove the store delivers; undefined: no proof needed (tests of the table alone).
   * @param probeGapMs longest gap between two arrivals of this agent's own record before the store counts as unhealthy.
   */
  constructor(
    private readonly timeoutMs: number,
    private readonly self?: string,
    private readonly probeGapMs: number = Infinity,
  ) {}

  /**
   * A record arrived. `ageMs` is given for records of a (re)sync snapshot: how much older it is
   * than the newest record there. A member this agent already knows is simply refreshed; an unknown
   * one from a snapshot counts only if it was written within the timeout, so a record left behind
   * by a node that crashed long ago does not come back to life on every resync.
   */
  heartbeat(record: MemberRecord, now: number, ageMs?: number): void {
    if (record.id === this.self && ageMs === undefined) this.ownRecordArrived(now);
    const known = this.members.get(record.id);
    if (known || ageMs === undefined) {
      this.members.set(record.id, { record, lastSeen: now });
      return;
    }
    if (ageMs >= this.timeoutMs) return;
    this.members.set(record.id, { record, lastSeen: now - ageMs });
  }

  remove(id: string): boolean {
    return this.members.delete(id);
  }

  suspend(): void {
    this.suspended = true;
  }

  resume(now: number): void {
    this.suspended = false;
    this.refreshAll(now);
  }

  get isSuspended(): boolean {
    return this.suspended;
  }

  /** Why liveness is not judged now, or undefined if it is. */
  frozen(now: number): FreezeReason | undefined {
    if (this.suspended) return 'store-disconnected';
    if (this.self === undefined) return undefined;
    if (this.selfSeen === undefined) return 'not-yet-synced';
    if (this.probeLost || now - this.selfSeen > this.probeGapMs) return 'own-heartbeat-missing';
    return undefined;
  }

  /** Drop members silent for longer than the timeout; returns their ids. None while frozen. */
  expire(now: number): string[] {
    if (this.frozen(now) !== undefined) {
      if (this.selfSeen !== undefined && now - this.selfSeen > this.probeGapMs) this.probeLost = true;
      return [];
    }
    const gone: string[] = [];
    for (const [id, m] of this.members) {
      // This agent never times itself out: its own silence is the store's. A member restarting in place is held
      // for the time its record asks (bounded when parsed).
      if (id !== this.self && now - m.lastSeen > Math.max(this.timeoutMs, m.record.holdMs ?? 0)) gone.push(id);
    }
    for (const id of gone) this.members.delete(id);
    return gone;
  }

  get(id: string): MemberRecord | undefined {
    return this.members.get(id)?.record;
  }

  /** Members held (live or not yet timed out). */
  get count(): number {
    return this.members.size;
  }

  /** Live members, sorted by id. */
  list(): MemberRecord[] {
    return [...this.members.values()].map((m) => m.record).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  private ownRecordArrived(now: number): void {
    const wasLost = this.probeLost || (this.selfSeen !== undefined && now - this.selfSeen > this.probeGapMs);
    this.selfSeen = now;
    this.probeLost = false;
    if (wasLost) this.refreshAll(now);
  }

  private refreshAll(now: number): void {
    for (const m of this.members.values()) m.lastSeen = Math.max(m.lastSeen, now);
  }
}

/** What a stand-in knows of a node it fled. */
interface Fled {
  readonly userId: string;
  /** The incarnation (`startedAt`) it fled, if that node was serving when the stand-in came. */
  readonly startedAt: number | undefined;
  /** Set when that incarnation had only just begun serving: a newer heartbeat of it from this time on also sends the user back. */
  readonly until: number | undefined;
  /** The latest heartbeat (`seq`) of that incarnation seen before `until`: one still in flight when the process died is no sign of life. */
  seq: number;
}

/**
 * The nodes that stand-ins held here fled, and when each is back. A client that found its owner
 * unreachable is held by a later node of its preference list, which keeps it while the owner stays in
 * the ring. If the owner crashed and the fleet times it out, the ring changes and the planner decides.
 * If it restarts first (same id, within the liveness timeout) the ring never changes and no plan runs;
 * what changes is its record: another `startedAt`, and once it serves, state `active`. That is the
 * sign the users that fled it may return.
 *
 * A stand-in remembers the incarnation it fled: the `startedAt` of the node's record if it was
 * `active` when the stand-in came, else none (the node was not serving: any active record is news).
 * An incarnation that began serving less than `recentMs` (the agent's `restartWindowMs`) before may be newer than
 * the process the client failed to reach; a newer heartbeat of it (higher `seq`; a resync replays the old one) that
 * arrives `recentMs` after the stand-in came shows it alive after the client's failure, so that also
 * sends the user back, while a process that crashed has nothing more to say (a heartbeat still in
 * flight arrives sooner). A full node's spill-over stand-ins stay put through its heartbeats.
 * Stand-ins are grouped by node and incarnation, so a heartbeat costs one look per group, not per user.
 */
export class FledNodes {
  /** Per node: its latest record's incarnation if that record is active, since when (local clock), and its latest `seq`. Kept after the node is gone. */
  private readonly serving = new Map<string, { startedAt: number; since: number; seq: number } | undefined>();
  /** node -> incarnation fled -> users waiting for another one. */
  private readonly waiting = new Map<string, Map<number | undefined, Set<string>>>();
  /** node -> users that fled an incarnation that had only just begun serving. */
  private readonly recent = new Map<string, Set<Fled>>();
  /** user -> node -> what it fled; to forget a user in time proportional to its own avoid set. */
  private readonly byUser = new Map<string, Map<string, Fled>>();

  /**
   * @param now this agent's clock.
   * @param recentMs how long a newly serving process may be newer than a client's failure (the agent's `restartWindowMs`).
   */
  constructor(private readonly now: () => number, private readonly recentMs: number) {}

  /** Since when (this agent's clock) the current process of `node` has been seen serving, if it is. */
  servingSince(node: string): number | undefined {
    return this.serving.get(node)?.since;
  }

  /** Users waiting for some node. */
  get size(): number {
    return this.byUser.size;
  }

  /** A user is held here as a stand-in that avoids `nodes`: it fled their current incarnations. Replaces what was known of it. */
  hold(userId: string, nodes: Iterable<string>): void {
    this.forget(userId);
    const now = this.now();
    const mine = new Map<string, Fled>();
    for (const node of nodes) {
      const serving = this.serving.get(node);
      const fresh = serving !== undefined && now - serving.since < this.recentMs;
      const fled: Fled = { userId, startedAt: serving?.startedAt, until: fresh ? now + this.recentMs : undefined, seq: serving?.seq ?? 0 };
      mine.set(node, fled);
      if (fresh) {
        const list = this.recent.get(node);
        if (list) list.add(fled);
        else this.recent.set(node, new Set([fled]));
        continue;
      }
      let groups = this.waiting.get(node);
      if (!groups) this.waiting.set(node, (groups = new Map()));
      let users = groups.get(fled.startedAt);
      if (!users) groups.set(fled.startedAt, (users = new Set()));
      users.add(userId);
    }
    if (mine.size > 0) this.byUser.set(userId, mine);
  }

  /** The user is no longer a stand-in here (gone, replaced, promoted). */
  forget(userId: string): void {
    const mine = this.byUser.get(userId);
    if (!mine) return;
    this.byUser.delete(userId);
    for (const [node, fled] of mine) this.leave(node, fled);
  }

  /**
   * A member record arrived. Returns the users that may now go back to `record.id` (see the class
   * comment); they no longer wait for it.
   */
  observe(record: MemberRecord): string[] {
    if (record.state !== 'active') {
      this.serving.set(record.id, undefined);
      return [];
    }
    const now = this.now();
    const known = this.serving.get(record.id);
    if (known?.startedAt !== record.startedAt) this.serving.set(record.id, { startedAt: record.startedAt, since: now, seq: record.seq });
    else known.seq = Math.max(known.seq, record.seq);
    const back: string[] = [];
    const groups = this.waiting.get(record.id);
    if (groups) {
      for (const [startedAt, users] of groups) {
        if (startedAt === record.startedAt) continue;
        groups.delete(startedAt);
        back.push(...users);
      }
      if (groups.size === 0) this.waiting.delete(record.id);
    }
    const list = this.recent.get(record.id);
    if (list) {
      for (const f of list) {
        if (f.startedAt !== record.startedAt || (now >= (f.until as number) && record.seq > f.seq)) {
          list.delete(f);
          back.push(f.userId);
        } else if (now < (f.until as number)) f.seq = Math.max(f.seq, record.seq);
      }
      if (list.size === 0) this.recent.delete(record.id);
    }
    for (const userId of back) {
      const mine = this.byUser.get(userId);
      mine?.delete(record.id);
      if (mine?.size === 0) this.byUser.delete(userId);
    }
    return back;
  }

  private leave(node: string, fled: Fled): void {
    if (fled.until !== undefined) {
      const list = this.recent.get(node);
      if (list?.delete(fled) && list.size === 0) this.recent.delete(node);
      return;
    }
    const groups = this.waiting.get(node);
    const users = groups?.get(fled.startedAt);
    if (!groups || !users) return;
    users.delete(fled.userId);
    if (users.size > 0) return;
    groups.delete(fled.startedAt);
    if (groups.size === 0) this.waiting.delete(node);
  }
}
