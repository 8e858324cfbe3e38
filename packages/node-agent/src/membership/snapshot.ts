/**
 * Splits what a fresh watch delivers into its first snapshot and the live changes after it. The snapshot is
 * complete once every key the store held when it was listed (after the watch opened) has been delivered at
 * least once: in the watch's initial set, or live, or as a later write of that key. An empty list makes it
 * complete at once. Entries of the snapshot are buffered and handed over together, in arrival order; every
 * later entry is live.
 *
 * Why keys and not a sequence number or the server's pending count: nats-server 2.9 skips an entry of the
 * initial set that was rewritten before it was sent (history 1 removed it) and sends the rewrite later, past
 * any sequence read meanwhile; and after recovering its store from a hard stop it can report one message more
 * pending than there is, so "pending 0" never comes. A store keeps every key it lists (no bucket TTL; a
 * delete leaves a marker that the watch delivers), so each listed key does arrive.
 */
export class SnapshotCollector<E> {
  private buffered: E[] | null = [];
  private readonly missing: Set<string>;

  constructor(
    keys: Iterable<string>,
    private readonly keyOf: (entry: E) => string,
    private readonly complete: (snapshot: E[]) => void,
  ) {
    this.missing = new Set(keys);
    if (this.missing.size === 0) this.finish();
  }

  get done(): boolean {
    return this.buffered === null;
  }

  /** Returns true when the entry is live (the snapshot was already complete), false when it belongs to the snapshot. */
  offer(entry: E): boolean {
    if (this.buffered === null) return true;
    this.buffered.push(entry);
    this.missing.delete(this.keyOf(entry));
    if (this.missing.size === 0) this.finish();
    return false;
  }

  private finish(): void {
    const entries = this.buffered ?? [];
    this.buffered = null;
    this.complete(entries);
  }
}
