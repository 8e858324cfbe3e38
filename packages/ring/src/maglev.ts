// Maglev hashing: Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load Balancer" (NSDI 2016), §3.4.
// Each node walks its own permutation of the M slots (offset, skip from two seeded hashes of its id) and, in
// turns, claims the next free slot. Weighting: each turn adds weight/maxWeight to a node's credit and the node
// claims a slot only when its credit reaches 1, so slot shares follow weights.
// A key with hash h maps to slot floor(h * M / 2^32): slots are contiguous hash ranges, so diffs are ranges.
import type { Hasher } from './hash.js';
import { SPACE, SegmentBuilder, concatBytes, utf8, type KeyHash, type Placement, type Segments } from './placement.js';
import type { RingNode } from './types.js';
import { isPrime } from './validate.js';

/** Second seed for the skip hash, so offset and skip are independent. */
export const SKIP_SEED_XOR = 0x5bd1e995;
export const MIN_DEFAULT_TABLE = 65537;
export const SLOTS_PER_NODE = 100;

export function defaultTableSize(nodeCount: number): number {
  let m = Math.max(MIN_DEFAULT_TABLE, SLOTS_PER_NODE * nodeCount);
  while (!isPrime(m)) m++;
  return m;
}

/** First hash in slot s: ceil(s * 2^32 / M), exactly (s * 2^32 < 2^53 by the table size limit). */
export function slotStart(s: number, m: number): number {
  const num = s * SPACE;
  let q = Math.floor(num / m);
  let r = num - q * m;
  if (r < 0) { q--; r += m; } else if (r >= m) { q++; r -= m; }
  return r === 0 ? q : q + 1;
}

export class Maglev implements Placement {
  readonly table: Uint32Array;
  private readonly scale: number;
  private seg: Segments | undefined;

  constructor(hasher: Hasher, private readonly nodes: readonly RingNode[], seed: number, readonly size: number) {
    const n = nodes.length;
    const m = size;
    this.scale = m / SPACE;
    const skip = new Uint32Array(n);
    const next = new Uint32Array(n);
    const step = new Float64Array(n);
    const credit = new Float64Array(n);
    const maxWeight = nodes.reduce((w, node) => Math.max(w, node.weight), 0);
    nodes.forEach((node, i) => {
      next[i] = hasher.h32(node.id, seed) % m;
      skip[i] = (hasher.h32(node.id, (seed ^ SKIP_SEED_XOR) >>> 0) % (m - 1)) + 1;
      step[i] = node.weight / maxWeight;
    });
    const EMPTY = 0xffffffff;
    const table = new Uint32Array(m).fill(EMPTY);
    let filled = 0;
    while (filled < m) {
      for (let i = 0; i < n && filled < m; i++) {
        credit[i] += step[i];
        if (credit[i] < 1) continue;
        credit[i] -= 1;
        let c = next[i];
        while (table[c] !== EMPTY) c = (c + skip[i]) % m;
        table[c] = i;
        next[i] = (c + skip[i]) % m;
        filled++;
      }
    }
    this.table = table;
  }

  private slot(hash: number): number {
    // hash * M < 2^53 and the scale is M * 2^-32: the product is exact.
    return Math.floor(hash * this.scale);
  }

  ownerIndex(hash: number): number {
    return this.table[this.slot(hash)];
  }

  lookup(h32: KeyHash, seed: number, ids: readonly string[]): (key: string) => string {
    const { table, scale } = this;
    return (key) => ids[table[Math.floor(h32(key, seed) * scale)]];
  }

  /** Owner first, then the distinct owners of the following slots. */
  preference(hash: number, n: number): number[] {
    const out: number[] = [];
    const want = Math.min(n, this.nodes.length);
    const m = this.size;
    for (let s = this.slot(hash), walked = 0; out.length < want && walked < m; walked++) {
      const o = this.table[s];
      if (!out.includes(o)) out.push(o);
      s = s + 1 === m ? 0 : s + 1;
    }
    return out;
  }

  segments(): Segments {
    if (this.seg) return this.seg;
    const b = new SegmentBuilder();
    for (let s = 0; s < this.size; s++) b.push(slotStart(s, this.size), this.table[s]);
    return (this.seg = b.build());
  }

  canonical(): Uint8Array {
    // Only nodes that own a slot matter; a node too light to own one changes nothing.
    const used = new Int32Array(this.nodes.length).fill(-1);
    const ids: string[] = [];
    const remapped = new Uint8Array(this.size * 4);
    const view = new DataView(remapped.buffer);
    for (let s = 0; s < this.size; s++) {
      const o = this.table[s];
      if (used[o] < 0) { used[o] = ids.length; ids.push(this.nodes[o].id); }
      view.setUint32(s * 4, used[o], true);
    }
    return concatBytes([utf8(JSON.stringify([this.size, ids])), remapped]);
  }
}
