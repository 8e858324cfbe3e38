import type { MovedKey, Ring } from './types.js';

/** The keys whose owner differs between `prev` and `next`, in the order given: the brute-force definition. */
export function movedKeys(prev: Ring, next: Ring, keys: Iterable<string>): MovedKey[] {
  const out: MovedKey[] = [];
  const sameHash = prev.seed === next.seed;
  for (const key of keys) {
    const h = prev.hashKey(key);
    const from = prev.ownerOfHash(h);
    const to = sameHash ? next.ownerOfHash(h) : next.owner(key);
    if (from !== to) out.push({ key, from, to });
  }
  return out;
}
