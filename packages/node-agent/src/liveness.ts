import type { MemberRecord } from './types.js';

interface Seen {
  record: MemberRecord;
  /** On this agent's own clock: when the latest heartbeat of this member arrived. */
  lastSeen: number;
}

/**
 * The members this agent believes alive, judged only from heartbeats it receives, on its own clock.
 * While the store is unreachable nothing expires (silence then says nothing about the others); when
 * it returns every member gets a fresh timeout to show its next heartbeat.
 */
export class MemberTable {
  private readonly members = new Map<string, Seen>();
  private suspended = false;

  constructor(private readonly timeoutMs: number) {}

  /**
   * A record arrived. `ageMs` is given for records of a (re)sync snapshot: how much older it is
   * than the newest record there. A member this agent already knows is simply refreshed; an unknown
   * one from a snapshot counts only if it was written within the timeout, so a record left behind
   * by a node that crashed long ago does not come back to life on every resync.
   */
  heartbeat(record: MemberRecord, now: number, ageMs?: number): void {
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
    for (const m of this.members.values()) m.lastSeen = now;
  }

  get isSuspended(): boolean {
    return this.suspended;
  }

  /** Drop members silent for longer than the timeout; returns their ids. */
  expire(now: number): string[] {
    if (this.suspended) return [];
    const gone: string[] = [];
    for (const [id, m] of this.members) {
      if (now - m.lastSeen > this.timeoutMs) gone.push(id);
    }
    for (const id of gone) this.members.delete(id);
    return gone;
  }

  get(id: string): MemberRecord | undefined {
    return this.members.get(id)?.record;
  }

  /** Live members, sorted by id. */
  list(): MemberRecord[] {
    return [...this.members.values()].map((m) => m.record).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}

/**
 * The nodes that stand-ins held here fled, and when each is back. A client that found its owner
 * unreachable is held by a later node of its preference list, which keeps it while the owner stays in
 * the ring. If the owner crashed and the fleet times it out, the ring changes and the planner decides.
 * If it restarts first (same id, within the liveness timeout) the ring never changes and no plan runs;
 * what changes is its record: another `startedAt`, and once it serves, state `active`. That is the
 * sign the users that fled it may return.
 *
 * A stand-in remembers the incarnation it fled: the `startedAt` of the node's record if that record
 * was `active` when the stand-in was admitted, else none (the node was not serving yet, so any active
 * record of it is news). Stand-ins are grouped by node and incarnation, so a heartbeat costs one look
 * per group, not per user: a full node's spill-over stand-ins stay put through its heartbeats.
 */
export class FledNodes {
  /** Per node, the incarnation of its latest record if that record is active. Kept after the node is gone. */
  private readonly serving = new Map<string, number | undefined>();
  /** node -> incarnation fled -> users waiting for it. */
  private readonly waiting = new Map<string, Map<number | undefined, Set<string>>>();
  /** user -> node -> incarnation fled; to forget a user in time proportional to its own avoid set. */
  private readonly byUser = new Map<string, Map<string, number | undefined>>();

  /** Users waiting for some node. */
  get size(): number {
    return this.byUser.size;
  }

  /** A user is held here as a stand-in that avoids `nodes`: it fled their current incarnations. Replaces what was known of it. */
  fled(userId: string, nodes: Iterable<string>): void {
    this.forget(userId);
    const fled = new Map<string, number | undefined>();
    for (const node of nodes) {
      const incarnation = this.serving.get(node);
      fled.set(node, incarnation);
      let groups = this.waiting.get(node);
      if (!groups) this.waiting.set(node, (groups = new Map()));
      let users = groups.get(incarnation);
      if (!users) groups.set(incarnation, (users = new Set()));
      users.add(userId);
    }
    if (fled.size > 0) this.byUser.set(userId, fled);
  }

  /** The user is no longer a stand-in here (gone, replaced, promoted). */
  forget(userId: string): void {
    const fled = this.byUser.get(userId);
    if (!fled) return;
    this.byUser.delete(userId);
    for (const [node, incarnation] of fled) this.leave(node, incarnation, userId);
  }

  /**
   * A member record arrived. Returns the users that may now go back to `record.id`: those that fled an
   * incarnation of it other than this one, which is active. They no longer wait for it.
   */
  observe(record: MemberRecord): string[] {
    const incarnation = record.state === 'active' ? record.startedAt : undefined;
    this.serving.set(record.id, incarnation);
    const groups = this.waiting.get(record.id);
    if (incarnation === undefined || !groups) return [];
    const back: string[] = [];
    for (const [fled, users] of groups) {
      if (fled === incarnation) continue;
      groups.delete(fled);
      for (const userId of users) {
        back.push(userId);
        const mine = this.byUser.get(userId);
        mine?.delete(record.id);
        if (mine?.size === 0) this.byUser.delete(userId);
      }
    }
    if (groups.size === 0) this.waiting.delete(record.id);
    return back;
  }

  private leave(node: string, incarnation: number | undefined, userId: string): void {
    const groups = this.waiting.get(node);
    const users = groups?.get(incarnation);
    if (!groups || !users) return;
    users.delete(userId);
    if (users.size > 0) return;
    groups.delete(incarnation);
    if (groups.size === 0) this.waiting.delete(node);
  }
}
