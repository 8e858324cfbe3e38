import { loadHasher, type Hasher } from './hash.js';
import { movedKeys } from './moved.js';
import { asHashRing } from './ring.js';
import type { KeyIndex, MovedKey, Ring } from './types.js';

/** Keys are bucketed by the top BUCKET_BITS of their hash, so a hash range maps to a run of buckets. */
const BUCKET_BITS = 16;
const SHIFT = 32 - BUCKET_BITS;
const BUCKETS = 1 << BUCKET_BITS;

interface Bucket {
  keys: string[];
  hashes: number[];
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
    const h = this.h32(key, this.seed);
    this.hashOf.set(key, h);
    const b = (this.buckets[h >>> SHIFT] ??= { keys: [], hashes: [] });
    b.keys.push(key);
    b.hashes.push(h);
  }

  delete(key: string): boolean {
    const h = this.hashOf.get(key);
    if (h === undefined) return false;
    this.hashOf.delete(key);
    const b = this.buckets[h >>> SHIFT]!;
    const i = b.keys.indexOf(key);
    const last = b.keys.length - 1;
    b.keys[i] = b.keys[last];
    b.hashes[i] = b.hashes[last];
    b.keys.pop();
    b.hashes.pop();
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
    for (const { start, end, from, to } of a.diff(b)) {
      const first = start >>> SHIFT;
      const last = (end - 1) >>> SHIFT;
      for (let k = first; k <= last; k++) {
        const bucket = this.buckets[k];
        if (!bucket) continue;
        const { keys, hashes } = bucket;
        // Whole buckets inside the range need no per-key check.
        const inside = k > first && k < last;
        for (let i = 0; i < keys.length; i++) {
          if (inside || (hashes[i] >= start && hashes[i] < end)) out.push({ key: keys[i], from, to });
        }
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
