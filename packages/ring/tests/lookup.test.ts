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
