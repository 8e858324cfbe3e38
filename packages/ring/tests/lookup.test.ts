import fc from 'fast-check';
import xxhash from 'xxhash-wasm';
import { describe, expect, it } from 'vitest';
import { createRing } from '../src/mod.js';

const { h32 } = await xxhash();

/** The ring's definition, computed the slow way: every point, and the first at or after the hash. */
function referenceOwner(nodes: { id: string; weight: number }[], seed: number, pointsPerWeight: number) {
  const points: { pos: number; id: string }[] = [];
  for (const n of nodes) {
    const count = Math.max(1, Math.round(n.weight * pointsPerWeight));
    for (let j = 0; j < count; j++) points.push({ pos: h32(`${n.id}#${j}`, seed), id: n.id });
  }
  points.sort((a, b) => a.pos - b.pos || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return {
    points,
    owner(hash: number): string {
      const p = points.find((x) => x.pos >= hash);
      return (p ?? points[0]).id;
    },
  };
}

const topology = fc.record({
  nodes: fc.uniqueArray(
    fc.record({ id: fc.string({ minLength: 1, maxLength: 6 }), weight: fc.double({ min: 0.05, max: 4, noNaN: true }) }),
    { minLength: 1, maxLength: 12, selector: (n) => n.id },
  ),
  seed: fc.nat({ max: 0xffffffff }),
  // Few points make wide buckets and shared owners; many make buckets holding several points.
  pointsPerWeight: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 100, max: 400 })),
});

describe('ring lookup tables', () => {
  it('answer exactly the first point at or after the hash, at and around every point', async () => {
    await fc.assert(
      fc.asyncProperty(topology, fc.array(fc.nat({ max: 0xffffffff }), { maxLength: 50 }), async (t, extra) => {
        const ring = await createRing(t.nodes, { seed: t.seed, pointsPerWeight: t.pointsPerWeight });
        const ref = referenceOwner(t.nodes, t.seed, t.pointsPerWeight);
        const probes = [0, 0xffffffff, ...extra];
        for (const { pos } of ref.points) probes.push(pos, Math.max(0, pos - 1), Math.min(0xffffffff, pos + 1));
        for (const h of probes) expect(ring.ownerOfHash(h)).toBe(ref.owner(h));
      }),
      { numRuns: 150, seed: 7 },
    );
  });

  it('owner(key), ownerOfHash(hashKey(key)) and owners(key, n)[0] agree', async () => {
    await fc.assert(
      fc.asyncProperty(
        topology,
        fc.constantFrom('ring', 'maglev', 'rendezvous'),
        fc.array(fc.string({ maxLength: 80 }), { minLength: 1, maxLength: 40 }),
        async (t, algorithm, keys) => {
          const ring = await createRing(t.nodes, { seed: t.seed, pointsPerWeight: t.pointsPerWeight, algorithm });
          for (const k of keys) {
            const owner = ring.owner(k);
            expect(owner).toBe(ring.ownerOfHash(ring.hashKey(k)));
            expect(ring.hashKey(k)).toBe(h32(k, t.seed));
            expect(ring.owners(k, 3)[0]).toBe(owner);
          }
        },
      ),
      { numRuns: 150, seed: 8 },
    );
  });
});

/** Inverse of fmix32 (each step is a bijection on 32-bit integers), to steer a node's u to chosen values. */
function unmix32(h: number): number {
  const inverse = (a: number) => {
    let x = a;
    for (let i = 0; i < 5; i++) x = Math.imul(x, 2 - Math.imul(a, x));
    return x;
  };
  h ^= h >>> 16;
  h = Math.imul(h, inverse(0xc2b2ae35));
  h ^= (h >>> 13) ^ (h >>> 26);
  h = Math.imul(h, inverse(0x85ebca6b));
  h ^= h >>> 16;
  return h >>> 0;
}

describe('rendezvous lookup', () => {
  it('skipping hopeless logarithms picks the owner that scoring every node picks', async () => {
    const { fmix32 } = await import('../src/hash.js');
    expect(fmix32(unmix32(0xfffffffe))).toBe(0xfffffffe);
    const weight = fc.oneof(fc.double({ min: 1e-6, max: 1e6, noNaN: true }), fc.constantFrom(1, 2, 0.5));
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.record({ id: fc.string({ minLength: 1, maxLength: 5 }), weight }), { minLength: 1, maxLength: 40, selector: (n) => n.id }),
        fc.nat({ max: 0xffffffff }),
        fc.array(fc.tuple(fc.nat(), fc.oneof(fc.constantFrom(0, 1, 0xfffffffe, 0xffffffff, 0x80000000), fc.nat({ max: 0xffffffff }))), { maxLength: 20 }),
        async (nodes, seed, steer) => {
          const ring = await createRing(nodes, { algorithm: 'rendezvous', seed });
          const sorted = ring.nodes;
          const nodeHash = sorted.map((n) => h32(n.id, seed));
          const fullScore = (hash: number) => {
            let best = 0;
            let bestScore = -1;
            sorted.forEach((n, i) => {
              const s = -n.weight / Math.log((fmix32(hash ^ nodeHash[i]) + 0.5) * 2 ** -32);
              if (s > bestScore) { bestScore = s; best = i; }
            });
            return sorted[best].id;
          };
          // Hashes that give one node a chosen mix (random, or extreme: u near 0, 1/2 or 1).
          const hashes = steer.map(([i, mixed]) => (unmix32(mixed) ^ nodeHash[i % nodeHash.length]) >>> 0);
          for (const h of hashes) expect(ring.ownerOfHash(h)).toBe(fullScore(h));
        },
      ),
      { numRuns: 300, seed: 9 },
    );
  });
});
