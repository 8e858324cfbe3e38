/** 2^32: the size of the key-hash space. */
export const SPACE = 4294967296;

/**
 * Ownership of the whole hash space as contiguous segments: owner `owners[j]` (a node index) holds
 * [starts[j], starts[j + 1]), the last one up to 2^32. starts[0] is 0; neighbours have different owners.
 */
export interface Segments {
  starts: Float64Array;
  owners: Uint32Array;
}

export type KeyHash = (input: string, seed: number) => number;

/** One placement algorithm over a fixed, id-sorted node list. Everything works on 32-bit key hashes. */
export interface Placement {
  /** Index (into the sorted nodes) of the owner of a key hash. */
  ownerIndex(hash: number): number;
  /**
   * owner(key) specialised to this placement: hashes with `h32` and `seed` and answers with `ids`, reading
   * the tables from closure variables so the hot path has no property chains and no polymorphic calls.
   */
  lookup(h32: KeyHash, seed: number, ids: readonly string[]): (key: string) => string;
  /** Preference list of node indices, owner first, at most n, distinct. */
  preference(hash: number, n: number): number[];
  /** Ownership segments, or null when the algorithm has no ranges (rendezvous). */
  segments(): Segments | null;
  /** Bytes that determine placement exactly: equal exactly when placement is equal. */
  canonical(): Uint8Array;
}

/** Builds segments from per-unit ownership runs, merging neighbours with the same owner. */
export class SegmentBuilder {
  private starts: number[] = [];
  private owners: number[] = [];
  push(start: number, owner: number): void {
    const n = this.owners.length;
    if (n > 0 && this.owners[n - 1] === owner) return;
    if (n > 0 && this.starts[n - 1] === start) {
      // Zero-width segment before this one: replace it.
      this.owners[n - 1] = owner;
      if (n > 1 && this.owners[n - 2] === owner) { this.starts.pop(); this.owners.pop(); }
      return;
    }
    this.starts.push(start);
    this.owners.push(owner);
  }
  build(): Segments {
    // A zero-width segment can only be left at the very end of the space.
    while (this.starts.length > 1 && this.starts[this.starts.length - 1] >= SPACE) { this.starts.pop(); this.owners.pop(); }
    return { starts: Float64Array.from(this.starts), owners: Uint32Array.from(this.owners) };
  }
}

// TextEncoder is global in browsers and Node; declared here so the package needs neither DOM nor Node types.
declare const TextEncoder: { new (): { encode(input: string): Uint8Array } };
const encoder = new TextEncoder();
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

export function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}
