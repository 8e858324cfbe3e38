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
