// Shared by the restart tests: one agent's line to a shared MemoryMembership that can die with its process.
import type { MemoryMembership, Membership, MembershipEvent, MemberRecord, StoredTopology } from '../src/mod.js';

/** Once dead (the process crashed) nothing is written or removed any more, so the agent's record stays behind, and nothing reaches it. */
export class ProcessLine implements Membership {
  dead = false;
  constructor(private readonly store: MemoryMembership) {}
  async put(record: MemberRecord): Promise<void> {
    this.alive();
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
