// Weighted rendezvous (highest random weight) hashing: Thaler & Ravishankar, "Using Name-Based Mappings to
// Increase Hit Rates" (IEEE/ACM ToN 1998), with the logarithmic weighting of Schindelhauer & Schomaker,
// "Weighted Distributed Hash Tables" (SPAA 2005): score = -weight / ln(u), u uniform in (0, 1).
// u for key hash h and node i is (fmix32(h ^ xxh32(id_i, seed)) + 0.5) / 2^32.
import type { Hasher } from './hash.js';
import { fmix32 } from './hash.js';
import { utf8, type KeyHash, type Placement } from './placement.js';
import type { RingNode } from './types.js';

const INV_SPACE = 2 ** -32;

export class Rendezvous implements Placement {
  private readonly nodeHash: Uint32Array;
  private readonly weight: Float64Array;

  constructor(hasher: Hasher, private readonly nodes: readonly RingNode[], seed: number) {
    this.nodeHash = Uint32Array.from(nodes, (n) => hasher.h32(n.id, seed));
    this.weight = Float64Array.from(nodes, (n) => n.weight);
  }

  private score(hash: number, i: number): number {
    return -this.weight[i] / Math.log((fmix32(hash ^ this.nodeHash[i]) + 0.5) * INV_SPACE);
  }

  ownerIndex(hash: number): number {
    const { nodeHash, weight } = this;
    let best = 0;
    let bestScore = -1;
    for (let i = 0; i < nodeHash.length; i++) {
      const u = (fmix32(hash ^ nodeHash[i]) + 0.5) * INV_SPACE;
      // Skip the logarithm when even an upper bound of the score cannot win. -ln(u) exceeds 1 - u by a relative
      // margin of at least (1 - u) / 2 >= 2^-34, far above Math.log's rounding error (< 2^-52); 1 - u is exact;
      // rounded division is monotone. So the computed score is <= w / (1 - u) as computed, and the owner is
      // the same as when every node is scored.
      if (weight[i] / (1 - u) <= bestScore) continue;
      const s = -weight[i] / Math.log(u);
      // Strict: on an exact tie the smaller id (lower index) wins.
      if (s > bestScore) { bestScore = s; best = i; }
    }
    return best;
  }

  lookup(h32: KeyHash, seed: number, ids: readonly string[]): (key: string) => string {
    return (key) => ids[this.ownerIndex(h32(key, seed))];
  }

  preference(hash: number, n: number): number[] {
    const scored = Array.from(this.nodeHash, (_, i) => ({ i, s: this.score(hash, i) }));
    scored.sort((a, b) => b.s - a.s || a.i - b.i);
    return scored.slice(0, Math.min(n, scored.length)).map((x) => x.i);
  }

  segments(): null {
    return null;
  }

  canonical(): Uint8Array {
    return utf8(JSON.stringify(this.nodes.map((n) => [n.id, n.weight])));
  }
}
