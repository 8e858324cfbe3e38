// One agent's line to a shared MemoryMembership, as if the store were reached from the agent's own process.
import type { MemoryMembership } from '../membership/memory.js';
import type { Membership, MembershipEvent, MemberRecord, StoredTopology } from '../types.js';

/**
 * It can lose the agent's next write (one missed heartbeat) or go dead (a crashed process: nothing is
 * written or removed any more, so the agent's record stays behind, and no event reaches it).
 */
export class ProcessLine implements Membership {
  /** Set to lose the next put; it clears itself once a put was lost. */
  dropNextPut = false;
  dead = false;
  constructor(
    private readonly store: MemoryMembership,
    private readonly onPutDropped: () => void = () => {},
  ) {}
  async put(record: MemberRecord): Promise<void> {
    this.alive();
    if (this.dropNextPut) {
      this.dropNextPut = false;
      this.onPutDropped();
      return;
    }
    await this.store.put(record);
  }
  async remove(id: string): Promise<void> {
    this.alive();
    await this.store.remove(id);
  }
  watch(listener: (e: MembershipEvent) => void): Promise<() => void> {
    return this.store.watch((e) => {
      if (!this.dead) listener(e);
    });
  }
  readTopology() {
    this.alive();
    return this.store.readTopology();
  }
  async casTopology(next: StoredTopology, revision: number): Promise<boolean> {
    this.alive();
    return this.store.casTopology(next, revision);
  }
  async close(): Promise<void> {}
  private alive(): void {
    if (this.dead) throw new Error('process is gone');
  }
}
