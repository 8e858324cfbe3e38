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

/** The keys whose hashes share their top bits, sorted by hash, so a range's keys in it are one contiguous run. */
interface Bucket {
  keys: string[];
  /** The low SHIFT bits of each key's hash: small integers, so the array stays compact and fast. */
  hashes: number[];
}

/** First index whose hash is >= h (hashes sorted ascending). */
function lowerBound(hashes: number[], h: number): number {
  let lo = 0;
  let hi = hashes.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (hashes[mid] < h) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

class RangeKeyIndex implements KeyIndex {
  private readonly hashOf = new Map<string, number>();
  private readonly buckets: (Bucket | undefined)[] = new Array(BUCKETS);

  constructor(private readonly h32: Hasher['h32'], readonly seed: number) {}

  get size(): number {
    return this.hashOf.size;
  }

  add(key: string): void {
    if (this.hashOf.has(key)) return;
    const hash = this.h32(key, this.seed);
    this.hashOf.set(key, hash);
    const { keys, hashes } = (this.buckets[hash >>> SHIFT] ??= { keys: [], hashes: [] });
    const h = hash & LOW;
    // Insertion into a sorted run of ~keys/65536 entries: shift the larger hashes up by one.
    let i = keys.length;
    keys.push(key);
    hashes.push(h);
    for (; i > 0 && hashes[i - 1] > h; i--) {
      keys[i] = keys[i - 1];
      hashes[i] = hashes[i - 1];
    }
    keys[i] = key;
    hashes[i] = h;
  }

  delete(key: string): boolean {
    const h = this.hashOf.get(key);
    if (h === undefined) return false;
    this.hashOf.delete(key);
    const { keys, hashes } = this.buckets[h >>> SHIFT]!;
    let i = lowerBound(hashes, h & LOW);
    while (i < keys.length && keys[i] !== key) i++; // past other keys with the same hash
    for (; i + 1 < keys.length; i++) {
      keys[i] = keys[i + 1];
      hashes[i] = hashes[i + 1];
    }
    keys.pop();
    hashes.pop();
    return true;
  }

  has(key: string): boolean {
    return this.hashOf.has(key);
  }

  keys(): IterableIterator<string> {
    return this.hashOf.keys();
  }

  moved(prev: Ring, next: Ring): MovedKey[] {
    const a = asHashRing(prev);
    const b = asHashRing(next);
    // Ranges only help when both rings have them and hash keys exactly as this index did.
    if (a.algorithm === 'rendezvous' || b.algorithm === 'rendezvous' || a.seed !== this.seed || b.seed !== this.seed) {
      return movedKeys(prev, next, this.hashOf.keys());
    }
    const out: MovedKey[] = [];
    const buckets = this.buckets;
    for (const { start, end, from, to } of a.diff(b)) {
      const first = start >>> SHIFT;
      const last = (end - 1) >>> SHIFT;
      for (let k = first; k <= last; k++) {
        const bucket = buckets[k];
        if (!bucket) continue;
        const { keys, hashes } = bucket;
        // Only the range's first and last buckets can hold keys outside it; binary search cuts those off.
        const lo = k === first ? lowerBound(hashes, start & LOW) : 0;
        // An end on a bucket boundary takes the whole of its last bucket.
        const hi = k === last && (end & LOW) !== 0 ? lowerBound(hashes, end & LOW) : keys.length;
        for (let i = lo; i < hi; i++) out.push({ key: keys[i], from, to });
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
