// Consistent hashing with virtual nodes: Karger et al., "Consistent Hashing and Random Trees" (STOC 1997).
// Node i contributes max(1, round(weight * pointsPerWeight)) points on a 32-bit circle at
// xxh32(utf8(`${id}#${j}`), seed) for j = 0, 1, ...; a key belongs to the first point at or after its hash.
import { RingError } from './errors.js';
import type { Hasher } from './hash.js';
import { SPACE, SegmentBuilder, utf8, type Placement, type Segments } from './placement.js';
import type { RingNode } from './types.js';
import { MAX_POINTS } from './validate.js';

/** Positions of one node's points, unsorted, reused by rings derived from this one. */
export type PointCache = Map<string, Uint32Array>;

const INDEX_BITS = 20;
const INDEX_SCALE = 2 ** INDEX_BITS;

export function pointCount(weight: number, pointsPerWeight: number): number {
  return Math.max(1, Math.round(weight * pointsPerWeight));
}

function nodePoints(hasher: Hasher, id: string, count: number, seed: number, cache: PointCache | undefined): Uint32Array {
  const cached = cache?.get(id);
  if (cached && cached.length === count) return cached;
  const out = new Uint32Array(count);
  // A re-weighted node keeps the prefix of points it already had, so only the difference moves.
  let j = 0;
  if (cached) { const keep = Math.min(count, cached.length); out.set(cached.subarray(0, keep)); j = keep; }
  for (; j < count; j++) out[j] = hasher.h32(`${id}#${j}`, seed);
  return out;
}

export class VirtualRing implements Placement {
  /** Sorted point positions. */
  private readonly pos: Uint32Array;
  /** Node index of each point. */
  private readonly own: Uint32Array;
  /** bucketStart[b] = first point whose top `bits` bits are >= b: narrows each lookup to ~1 point. */
  private readonly bucketStart: Uint32Array;
  private readonly shift: number;
  private readonly counts: Uint32Array;
  readonly points: PointCache;
  private seg: Segments | undefined;

  constructor(hasher: Hasher, private readonly nodes: readonly RingNode[], seed: number, pointsPerWeight: number, cache?: PointCache) {
    this.counts = Uint32Array.from(nodes, (n) => pointCount(n.weight, pointsPerWeight));
    const total = this.counts.reduce((a, b) => a + b, 0);
    if (total > MAX_POINTS) {
      throw new RingError('INVALID_WEIGHT', `weights need ${total} points; at most ${MAX_POINTS} (lower pointsPerWeight or the weights)`);
    }
    this.points = new Map();
    // Sort (position, node index) pairs packed into one double: ties on position go to the smaller id.
    const packed = new Float64Array(total);
    let k = 0;
    nodes.forEach((node, i) => {
      const pts = nodePoints(hasher, node.id, this.counts[i], seed, cache);
      this.points.set(node.id, pts);
      for (let j = 0; j < pts.length; j++) packed[k++] = pts[j] * INDEX_SCALE + i;
    });
    packed.sort();
    this.pos = new Uint32Array(total);
    this.own = new Uint32Array(total);
    for (let p = 0; p < total; p++) {
      const position = Math.floor(packed[p] / INDEX_SCALE);
      this.pos[p] = position;
      this.own[p] = packed[p] - position * INDEX_SCALE;
    }
    const bits = Math.min(20, Math.max(1, Math.ceil(Math.log2(total + 1))));
    this.shift = 32 - bits;
    const buckets = 1 << bits;
    this.bucketStart = new Uint32Array(buckets + 1);
    let p = 0;
    for (let b = 0; b <= buckets; b++) {
      while (p < total && this.pos[p] >>> this.shift < b) p++;
      this.bucketStart[b] = p;
    }
  }

  /** Index of the first point at or after `hash`, wrapping to 0. */
  private successor(hash: number): number {
    const b = hash >>> this.shift;
    let lo = this.bucketStart[b];
    let hi = this.bucketStart[b + 1];
    const pos = this.pos;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (pos[mid] < hash) lo = mid + 1;
      else hi = mid;
    }
    return lo === pos.length ? 0 : lo;
  }

  ownerIndex(hash: number): number {
    return this.own[this.successor(hash)];
  }

  preference(hash: number, n: number): number[] {
    const out: number[] = [];
    const want = Math.min(n, this.nodes.length);
    const total = this.pos.length;
    for (let p = this.successor(hash), walked = 0; out.length < want && walked < total; walked++) {
      const o = this.own[p];
      if (!out.includes(o)) out.push(o);
      p = p + 1 === total ? 0 : p + 1;
    }
    return out;
  }

  segments(): Segments {
    if (this.seg) return this.seg;
    // Point p owns (pos[p-1], pos[p]] = [pos[p-1] + 1, pos[p] + 1); the first point also owns the wrap.
    const b = new SegmentBuilder();
    const { pos, own } = this;
    b.push(0, own[0]);
    for (let p = 1; p < pos.length; p++) b.push(pos[p - 1] + 1, own[p]);
    const tail = pos[pos.length - 1] + 1;
    if (tail < SPACE) b.push(tail, own[0]);
    return (this.seg = b.build());
  }

  canonical(): Uint8Array {
    // Placement is fixed by the seed (in the caller), ids and point counts.
    return utf8(JSON.stringify(this.nodes.map((n, i) => [n.id, this.counts[i]])));
  }
}
