// Consistent hashing with virtual nodes: Karger et al., "Consistent Hashing and Random Trees" (STOC 1997).
// Node i contributes max(1, round(weight * pointsPerWeight)) points on a 32-bit circle at
// xxh32(utf8(`${id}#${j}`), seed) for j = 0, 1, ...; a key belongs to the first point at or after its hash.
import { RingError } from './errors.js';
import type { Hasher } from './hash.js';
import { SPACE, SegmentBuilder, utf8, type KeyHash, type Placement, type Segments } from './placement.js';
import { sortPoints } from './sort-points.js';
import type { RingNode } from './types.js';
import { MAX_POINTS } from './validate.js';

/** Each node's point positions (in no particular order), handed to rings derived from this one. */
export type PointCache = Map<string, Uint32Array>;

/**
 * The bucket table has 2^(ceil(log2(points)) + 2) entries, so about 4 buckets per point and most hold none:
 * measured with bench/run.js, 2 extra bits make lookups ~10% faster than 1 and ~20% faster than 0.
 */
const EXTRA_BUCKET_BITS = 2;
/** Caps the table at 2 MiB (2^19 entries, from ~130k points up); past it buckets hold more points each. */
const MAX_BUCKET_BITS = 19;

export function pointCount(weight: number, pointsPerWeight: number): number {
  return Math.max(1, Math.round(weight * pointsPerWeight));
}

/** A node's point positions: reused from the ring this one derives from when its count is unchanged. */
function nodePoints(hasher: Hasher, id: string, count: number, seed: number, previous: PointCache | undefined): Uint32Array {
  const known = previous?.get(id);
  if (known && known.length === count) return known;
  const out = new Uint32Array(count);
  for (let j = 0; j < count; j++) out[j] = hasher.h32(`${id}#${j}`, seed);
  return out;
}

/** The lookup table described at VirtualRing.bucket, built in one pass over the sorted points. */
function bucketTable(pos: Uint32Array, own: Uint32Array, shift: number): Int32Array {
  const total = pos.length;
  const buckets = 2 ** (32 - shift);
  const bucket = new Int32Array(buckets);
  let b = 0;
  for (let p = 0; p < total; ) {
    const pb = pos[p] >>> shift;
    // Buckets b..pb-1 hold no point: all of their hashes belong to point p.
    if (pb > b) bucket.fill(~own[p], b, pb);
    // Bucket pb holds points p..q-1; the point after them (wrapping) owns the bucket's tail.
    let q = p + 1;
    while (q < total && pos[q] >>> shift === pb) q++;
    const after = own[q === total ? 0 : q];
    let single = true;
    for (let r = p; r < q && single; r++) single = own[r] === after;
    bucket[pb] = single ? ~after : p;
    b = pb + 1;
    p = q;
  }
  // Past the last point the hashes wrap around to the first.
  if (b < buckets) bucket.fill(~own[0], b, buckets);
  return bucket;
}

export class VirtualRing implements Placement {
  /** Sorted point positions. */
  private readonly pos: Uint32Array;
  /** Node index of each point. */
  private readonly own: Uint32Array;
  /**
   * One entry per bucket of hashes sharing their top `32 - shift` bits. When every hash in the bucket has the
   * same owner the entry is ~ownerIndex (negative): the lookup is one read. Otherwise it is the index of the
   * bucket's first point, and the lookup steps over the bucket's few points.
   */
  private readonly bucket: Int32Array;
  private readonly shift: number;
  private readonly counts: Uint32Array;
  private seg: Segments | undefined;

  constructor(hasher: Hasher, private readonly nodes: readonly RingNode[], seed: number, pointsPerWeight: number, cache?: PointCache) {
    // Summed as doubles before narrowing to 32 bits: a huge weight must fail here, not wrap to a small count.
    const counts = nodes.map((n) => pointCount(n.weight, pointsPerWeight));
    const total = counts.reduce((a, b) => a + b, 0);
    if (!(total <= MAX_POINTS)) {
      throw new RingError('INVALID_WEIGHT', `weights need ${total} points; at most ${MAX_POINTS} (lower pointsPerWeight or the weights)`);
    }
    this.counts = Uint32Array.from(counts);
    // Points listed by node index, then sorted stably by position: ties on position go to the smaller id.
    const unsortedPos = new Uint32Array(total);
    const unsortedOwn = new Uint32Array(total);
    let k = 0;
    nodes.forEach((node, i) => {
      const pts = nodePoints(hasher, node.id, this.counts[i], seed, cache);
      unsortedPos.set(pts, k);
      unsortedOwn.fill(i, k, k + pts.length);
      k += pts.length;
    });
    const { pos, own } = sortPoints(unsortedPos, unsortedOwn);
    this.pos = pos;
    this.own = own;
    const bits = Math.min(MAX_BUCKET_BITS, Math.max(1, Math.ceil(Math.log2(total)) + EXTRA_BUCKET_BITS));
    this.shift = 32 - bits;
    this.bucket = bucketTable(pos, own, this.shift);
  }

  /**
   * Each node's point positions, regrouped from the sorted points: kept only while a derived ring is built,
   * so a ring holds its points once.
   */
  pointPositions(): PointCache {
    const { pos, own, counts } = this;
    const groups = Array.from(counts, (c) => new Uint32Array(c));
    const filled = new Uint32Array(counts.length);
    for (let p = 0; p < pos.length; p++) {
      const o = own[p];
      groups[o][filled[o]++] = pos[p];
    }
    return new Map(this.nodes.map((node, i) => [node.id, groups[i]]));
  }

  /** Index of the first point at or after `hash`, wrapping to 0 (binary search: only preference lists use it). */
  private successor(hash: number): number {
    const pos = this.pos;
    let lo = 0;
    let hi = pos.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (pos[mid] < hash) lo = mid + 1;
      else hi = mid;
    }
    return lo === pos.length ? 0 : lo;
  }

  ownerIndex(hash: number): number {
    const entry = this.bucket[hash >>> this.shift];
    if (entry < 0) return ~entry;
    const pos = this.pos;
    let p = entry;
    while (p < pos.length && pos[p] < hash) p++;
    return this.own[p === pos.length ? 0 : p];
  }

  lookup(h32: KeyHash, seed: number, ids: readonly string[]): (key: string) => string {
    const { pos, own, bucket, shift } = this;
    const total = pos.length;
    return (key) => {
      const hash = h32(key, seed);
      const entry = bucket[hash >>> shift];
      if (entry < 0) return ids[~entry];
      let p = entry;
      while (p < total && pos[p] < hash) p++;
      return ids[own[p === total ? 0 : p]];
    };
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
