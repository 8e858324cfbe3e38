/**
 * Splits what a fresh watch delivers into its first snapshot and the live changes after it. The snapshot
 * is complete at the first entry at or past `lastSeq`, the store's last sequence read before the watch
 * opened (0: the store was empty, so the snapshot is complete at once). Entries of the snapshot are
 * buffered and handed over together; every later entry is live.
 */
export class SnapshotCollector<E> {
  private buffered: E[] | null = [];

  constructor(
    private readonly lastSeq: number,
    private readonly seqOf: (entry: E) => number,
    private readonly complete: (snapshot: E[]) => void,
  ) {
    if (lastSeq <= 0) this.finish();
  }

  get done(): boolean {
    return this.buffered === null;
  }

  /** Returns true when the entry is live (the snapshot was already complete), false when it belongs to the snapshot. */
  offer(entry: E): boolean {
    if (this.buffered === null) return true;
    this.buffered.push(entry);
    if (this.seqOf(entry) >= this.lastSeq) this.finish();
    return false;
  }

  private finish(): void {
    const entries = this.buffered ?? [];
    this.buffered = null;
    this.complete(entries);
  }
}
