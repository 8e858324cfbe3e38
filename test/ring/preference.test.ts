// Property 5: preference lists. Distinct, owner first, as long as the fleet allows; and for ring and rendezvous,
// the next entries are exactly where the key goes when the nodes before them leave (client-side failover).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRing, type Ring } from '@wsring/ring';
import { ALGORITHMS, keySet, seed, topology } from './support.js';

describe.each(ALGORITHMS)('preference lists (%s)', (algorithm) => {
  it('are distinct node ids, owner first, min(n, nodes) long', async () => {
    await fc.assert(
      fc.asyncProperty(topology(200), seed, keySet(100), fc.integer({ min: 1, max: 210 }), async (nodes, s, keys, n) => {
        const ring = await createRing(nodes, { algorithm, seed: s });
        const ids = new Set(ring.nodes.map((x) => x.id));
        const want = Math.min(n, nodes.length);
        for (const k of keys) {
          const list = ring.owners(k, n);
          expect(list.length).toBe(want);
          expect(new Set(list).size).toBe(want);
          expect(list[0]).toBe(ring.owner(k));
          expect(list.every((id) => ids.has(id))).toBe(true);
          // A list is a prefix of any longer one.
          expect(ring.owners(k, n + 1).slice(0, want)).toEqual(list);
        }
      }),
      { numRuns: 20 },
    );
  });
});

describe.each(['ring', 'rendezvous'] as const)('failover order (%s)', (algorithm) => {
  it('after removing owner(k) the new owner is owners(k, 2)[1]', async () => {
    await fc.assert(
      fc.asyncProperty(topology(200, 2), seed, keySet(100), async (nodes, s, keys) => {
        const ring = await createRing(nodes, { algorithm, seed: s });
        const without = new Map<string, Ring>();
        for (const k of keys) {
          const [first, second] = ring.owners(k, 2);
          if (!without.has(first)) without.set(first, ring.withoutNodes([first]));
          expect(without.get(first)!.owner(k)).toBe(second);
        }
      }),
      { numRuns: 15 },
    );
  });

  it('after removing the first j entries the new owner, and the rest of the list, follow in order', async () => {
    await fc.assert(
      fc.asyncProperty(topology(120, 2), seed, keySet(20), fc.integer({ min: 1, max: 6 }), async (nodes, s, keys, j) => {
        const ring = await createRing(nodes, { algorithm, seed: s });
        const drop = Math.min(j, nodes.length - 1);
        for (const k of keys) {
          const list = ring.owners(k, drop + 3);
          const survivor = ring.withoutNodes(list.slice(0, drop));
          expect(survivor.owners(k, 3)).toEqual(list.slice(drop, drop + 3));
        }
      }),
      { numRuns: 15 },
    );
  });
});
