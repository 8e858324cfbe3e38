import fc from 'fast-check';
import xxhash from 'xxhash-wasm';
import { describe, expect, it } from 'vitest';
import { createKeyIndex, createRing, movedKeys, type MovedKey, type Ring } from '../src/mod.js';

const { h32 } = await xxhash();
/** The index buckets keys by the top 16 bits of their hash. */
const bucketOf = (s: string) => h32(s, 0) >>> 16;

/** Strings `${prefix}${i}` that satisfy `accept(hash)`, found by brute force. */
function find(prefix: string, count: number, accept: (h: number, s: string) => boolean): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) if (accept(h32(`${prefix}${i}`, 0), `${prefix}${i}`)) out.push(`${prefix}${i}`);
  return out;
}

// A node whose single point (pointsPerWeight 1: point 0 at h32(`${id}#0`)) is the last hash of its bucket, so
// the range it takes over ends exactly on a bucket boundary.
const [z] = find('z-', 1, (_, s) => (h32(`${s}#0`, 0) & 0xffff) === 0xffff);
// One crowded bucket, z's: keys that share it, so order within a bucket and cuts inside it matter.
const CROWDED = h32(`${z}#0`, 0) >>> 16;
const crowdedKeys = find('k-', 16, (h) => h >>> 16 === CROWDED);
// Pairs of distinct keys with equal hashes.
const seen = new Map<number, string>();
const colliding = find('c-', 4, (h, s) => (seen.has(h) ? true : (seen.set(h, s), false))).flatMap((s) => [seen.get(h32(s, 0))!, s]);
// Two nodes whose single points (pointsPerWeight 1: point 0 at h32(`${id}#0`)) fall inside the crowded bucket.
const [y, x] = find('n-', 2, (h, s) => h32(`${s}#0`, 0) >>> 16 === CROWDED).sort((a, b) => h32(`${a}#0`, 0) - h32(`${b}#0`, 0));

// Drawn evenly from the three groups, so colliding and crowded keys meet often.
const poolKey = fc.oneof(fc.constantFrom(...crowdedKeys), fc.constantFrom(...colliding), fc.constantFrom('', ...Array.from({ length: 20 }, (_, i) => `user-${i}`)));
const byKey = (a: MovedKey, b: MovedKey) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

describe('key index', () => {
  it('behaves like a set, and moved() equals movedKeys() over its keys, after any adds and deletes', async () => {
    const ringOf = (ids: string[], algorithm: 'ring' | 'maglev' = 'ring') =>
      createRing(ids.map((id) => ({ id })), { algorithm, pointsPerWeight: 1 });
    const [base, withY, withXY, withZ, a, b, m1, m2] = await Promise.all([
      ringOf(['base']), ringOf(['base', y]), ringOf(['base', y, x]), ringOf(['base', z]), ringOf(['a']), ringOf(['b']),
      ringOf(['a', 'b', 'c'], 'maglev'), ringOf(['a', 'b', 'c', 'd'], 'maglev'),
    ]);
    // Changes whose moved ranges start and end inside the crowded bucket or on its end, cover everything, or are
    // Maglev slots.
    const changes: [Ring, Ring][] = [[base, withY], [withY, withXY], [withXY, withY], [base, withXY], [base, withZ], [a, b], [m1, m2]];
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.boolean(), poolKey), { minLength: 1, maxLength: 120, size: 'max' }), async (ops) => {
        const index = await createKeyIndex();
        const model = new Set<string>();
        for (const [add, key] of ops) {
          if (add) {
            index.add(key);
            model.add(key);
          } else {
            expect(index.delete(key)).toBe(model.delete(key));
          }
          expect(index.size).toBe(model.size);
          expect(index.has(key)).toBe(model.has(key));
        }
        expect([...index.keys()].sort()).toEqual([...model].sort());
        for (const [prev, next] of changes) {
          expect(index.moved(prev, next).sort(byKey)).toEqual(movedKeys(prev, next, model).sort(byKey));
        }
      }),
      { numRuns: 300, seed: 5 },
    );
  });
});
