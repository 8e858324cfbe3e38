import { loadHasher, type Hasher } from './hash.js';
import { movedKeys } from './moved.js';
import { asHashRing } from './ring.js';
import type { KeyIndex, MovedKey, Ring } from './types.js';

/** Keys are bucketed by the top BUCKET_BITS of their hash, so a hash range maps to a run of buckets. */
const BUCKET_BITS = 16;
const SHIFT = 32 - BUCKET_BITS;
const BUCKETS = 1 << BUCKET_BITS;
/** A bucket stores only the low bits of its keys' hashes (the bucket index is the rest): small integers. */
const LOW = (1 << SHIFT) - 1;

/**
 * The keys whose hashes share their top bits, sorted by hash, so a range's keys in it are one contiguous run.
 * One array per bucket, its pairs interleaved: `[low0, key0, low1, key1, ...]`, where `low` is the low SHIFT bits
 * of the key's hash (a small integer). Each array is exactly as long as its pairs (an insertion or a removal makes a
 * new one, as cheap as the shift it replaces in a bucket of ~keys/65536 pairs): a node with tens of thousands of
 * users has most of them alone in their bucket, and an array grown by `push` would reserve 17 slots for each.
 */
type Bucket = (number | string)[];

/** First pair index whose hash is >= h (hashes sorted ascending). */
function lowerBound(bucket: Bucket, h: number): number {
  let lo = 0;
  let hi = bucket.length >> 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((bucket[mid << 1] as number) < h) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The pair index of `key` (hash low bits `h`) in `bucket`, or -1. */
function find(bucket: Bucket, h: number, key: string): number {
  const pairs = bucket.length >> 1;
  for (let i = lowerBound(bucket, h); i < pairs && bucket[i << 1] === h; i++) if (bucket[(i << 1) + 1] === key) return i;
  return -1;
}

/**
 * A key index over ring hash ranges. It keeps no map from key to hash (the hash is computed again when needed):
 * per key it holds two array slots.
 */
class RangeKeyIndex implements KeyIndex {
  private count = 0;
  private readonly buckets: (Bucket | undefined)[] = new Array(BUCKETS);

  constructor(private readonly h32: Hasher['h32'], readonly seed: number) {}

  get size(): number {
    return this.count;
  }

  add(key: string): void {
    const hash = this.h32(key, this.seed);
    const k = hash >>> SHIFT;
    const h = hash & LOW;
    const bucket = this.buckets[k];
    if (!bucket) {
      this.buckets[k] = [h, key];
      this.count++;
      return;
    }
    if (find(bucket, h, key) >= 0) return;
    // After the pairs with the same or a lower hash.
    let at = lowerBound(bucket, h);
    while (at < bucket.length >> 1 && bucket[at << 1] === h) at++;
    const next: Bucket = new Array(bucket.length + 2);
    for (let i = 0; i < at << 1; i++) next[i] = bucket[i];
    next[at << 1] = h;
    next[(at << 1) + 1] = key;
    for (let i = at << 1; i < bucket.length; i++) next[i + 2] = bucket[i];
    this.buckets[k] = next;
    this.count++;
  }

  delete(key: string): boolean {
    const hash = this.h32(key, this.seed);
    const k = hash >>> SHIFT;
    const bucket = this.buckets[k];
    const at = bucket ? find(bucket, hash & LOW, key) : -1;
    if (!bucket || at < 0) return false;
    this.count--;
    if (bucket.length === 2) {
      this.buckets[k] = undefined;
      return true;
    }
    const next: Bucket = new Array(bucket.length - 2);
    for (let i = 0; i < at << 1; i++) next[i] = bucket[i];
    for (let i = (at << 1) + 2; i < bucket.length; i++) next[i - 2] = bucket[i];
    this.buckets[k] = next;
    return true;
  }

  has(key: string): boolean {
    const hash = this.h32(key, this.seed);
    const bucket = this.buckets[hash >>> SHIFT];
    return bucket !== undefined && find(bucket, hash & LOW, key) >= 0;
  }

  /** The keys, in hash order. */
  *keys(): IterableIterator<string> {
    for (const bucket of this.buckets) if (bucket) for (let i = 1; i < bucket.length; i += 2) yield bucket[i] as string;
  }

  moved(prev: Ring, next: Ring): MovedKey[] {
    const a = asHashRing(prev);
    const b = asHashRing(next);
    // Ranges only help when both rings have them and hash keys exactly as this index did.
    if (a.algorithm === 'rendezvous' || b.algorithm === 'rendezvous' || a.seed !== this.seed || b.seed !== this.seed) {
      return movedKeys(prev, next, this.keys());
    }
    const out: MovedKey[] = [];
    const buckets = this.buckets;
    for (const { start, end, from, to } of a.diff(b)) {
      const first = start >>> SHIFT;
      const last = (end - 1) >>> SHIFT;
      for (let k = first; k <= last; k++) {
        const bucket = buckets[k];
        if (!bucket) continue;
        // Only the range's first and last buckets can hold keys outside it; binary search cuts those off.
        const lo = k === first ? lowerBound(bucket, start & LOW) : 0;
        // An end on a bucket boundary takes the whole of its last bucket.
        const hi = k === last && (end & LOW) !== 0 ? lowerBound(bucket, end & LOW) : bucket.length >> 1;
        for (let i = lo; i < hi; i++) out.push({ key: bucket[(i << 1) + 1] as string, from, to });
      }
    }
    return out;
  }
}

/** An index of keys (for example the users connected to a node) that answers "which of these moved?" fast. */
export async function createKeyIndex(keys?: Iterable<string>, options?: { seed?: number }): Promise<KeyIndex> {
  const hasher = await loadHasher();
  const index = new RangeKeyIndex(hasher.h32, options?.seed ?? 0);
  if (keys) for (const k of keys) index.add(k);
  return index;
}
