import type { MemberRecord, Membership, MembershipEvent, StoredRecords, StoredTopology } from '../types.js';

/**
 * Membership held in process memory: several agents in one process share one instance. It behaves
 * like the KV bucket (records, a compare-and-set topology label, watchers) and can simulate losing
 * the store with `setConnected(false)` for state-machine tests.
 */
export class MemoryMembership implements Membership {
  /** @param now clock for record ages (injectable for tests). */
  constructor(private readonly now: () => number = Date.now) {}

  private readonly records = new Map<string, { record: MemberRecord; writtenAt: number }>();
  private topology: { stored: StoredTopology; revision: number } | null = null;
  private revision = 0;
  private readonly listeners = new Set<(e: MembershipEvent) => void>();
  private connected = true;

  async put(record: MemberRecord): Promise<void> {
    this.assertConnected();
    this.records.set(record.id, { record: { ...record }, writtenAt: this.now() });
    this.revision++;
    this.emit({ type: 'put', record: { ...record } });
  }

  async remove(id: string): Promise<void> {
    this.assertConnected();
    if (!this.records.delete(id)) return;
    this.revision++;
    this.emit({ type: 'delete', id });
  }

  private readonly successors = new Map<string, { record: MemberRecord; writtenAt: number }>();

  async putSuccessor(record: MemberRecord): Promise<void> {
    this.assertConnected();
    this.successors.set(record.id, { record: { ...record }, writtenAt: this.now() });
  }

  async removeSuccessor(id: string): Promise<void> {
    this.assertConnected();
    this.successors.delete(id);
  }

  async readRecords(id: string): Promise<StoredRecords> {
    this.assertConnected();
    const copy = (e: { record: MemberRecord; writtenAt: number } | undefined) => e && { record: { ...e.record }, writtenAt: e.writtenAt };
    const member = copy(this.records.get(id));
    const successor = copy(this.successors.get(id));
    return { ...(member ? { member } : {}), ...(successor ? { successor } : {}) };
  }

  async watch(listener: (event: MembershipEvent) => void): Promise<() => void> {
    this.assertConnected();
    this.replay(listener);
    listener({ type: 'synced' });
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  async readTopology(): Promise<{ stored: StoredTopology; revision: number } | null> {
    this.assertConnected();
    return this.topology && { stored: { ...this.topology.stored }, revision: this.topology.revision };
  }

  async casTopology(next: StoredTopology, revision: number): Promise<boolean> {
    this.assertConnected();
    if ((this.topology?.revision ?? 0) !== revision) return false;
    this.revision++;
    this.topology = { stored: { ...next }, revision: this.revision };
    this.emit({ type: 'topology', stored: { ...next }, revision: this.revision });
    return true;
  }

  async close(): Promise<void> {}

  /** Simulate losing (false) and regaining (true) the store. Watchers are told either way. */
  setConnected(connected: boolean): void {
    if (connected === this.connected) return;
    this.connected = connected;
    if (!connected) {
      for (const l of this.listeners) l({ type: 'disconnected' });
      return;
    }
    for (const l of this.listeners) {
      this.replay(l);
      l({ type: 'reconnected' });
    }
  }

  get isConnected(): boolean {
    return this.connected;
  }

  private replay(listener: (e: MembershipEvent) => void): void {
    const newest = Math.max(0, ...[...this.records.values()].map((r) => r.writtenAt));
    for (const r of this.records.values()) listener({ type: 'put', record: { ...r.record }, ageMs: newest - r.writtenAt });
    if (this.topology) listener({ type: 'topology', stored: { ...this.topology.stored }, revision: this.topology.revision });
  }

  private emit(e: MembershipEvent): void {
    if (!this.connected) return;
    for (const l of this.listeners) l(e);
  }

  private assertConnected(): void {
    if (!this.connected) throw new Error('membership store unavailable');
  }
}
