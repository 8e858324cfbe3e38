// Counting the agents' heartbeats from a watch of the membership store. Where real time cannot be avoided (a
// real nats-server, agents in child processes), a window in which nothing may happen is measured in heartbeats
// of the agents themselves: as long in their own time on a slow machine as on a fast one.

/** What is read of a membership event (the agent's `MembershipEvent`). */
type Event = { type: 'put'; record: { id: string; startedAt: number; seq: number } } | { type: 'delete' | 'topology' | 'synced' | 'disconnected' | 'reconnected' | 'ignored' };

/** A membership store to watch (the agent's `Membership`, e.g. a `NatsMembership` of the test's own). */
export interface WatchedStore {
  watch(listener: (event: Event) => void): Promise<() => void>;
  close(): Promise<void>;
}

export class Heartbeats {
  private readonly latest = new Map<string, { startedAt: number; seq: number; count: number }>();
  private readonly waiters = new Set<() => void>();
  private stop: () => void = () => {};

  private constructor(private readonly store: WatchedStore) {}

  /** Count every heartbeat written to `store` from now on (and its current records); `close()` closes `store`. */
  static async watch(store: WatchedStore): Promise<Heartbeats> {
    const h = new Heartbeats(store);
    h.stop = await store.watch((e) => {
      if (e.type === 'put' && 'record' in e) h.seen(e.record);
    });
    return h;
  }

  /** Heartbeats of `id` seen so far. A record seen again (a resync replays them) counts once; a new process of `id` counts on. */
  count(id: string): number {
    return this.latest.get(id)?.count ?? 0;
  }

  /** Resolves once `id` has written `n` heartbeats more than it had when called; `timeoutMs` only fails a hung test. */
  more(id: string, n: number, timeoutMs = 30_000): Promise<void> {
    const target = this.count(id) + n;
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.count(id) < target) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`${id} did not heartbeat ${n} more times within ${timeoutMs} ms (${this.count(id) - target + n} so far)`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  async close(): Promise<void> {
    this.stop();
    await this.store.close();
  }

  private seen(record: { id: string; startedAt: number; seq: number }): void {
    const last = this.latest.get(record.id);
    if (last && last.startedAt === record.startedAt && record.seq <= last.seq) return;
    this.latest.set(record.id, { startedAt: record.startedAt, seq: record.seq, count: (last?.count ?? 0) + 1 });
    for (const check of [...this.waiters]) check();
  }
}
