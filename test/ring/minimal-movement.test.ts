// Property 3 (ring, rendezvous): a change moves only the keys it must. For `ring` the check covers the whole hash
// space through diff ranges; for rendezvous (no ranges) it covers the generated keys. The changed ring is built
// from scratch, so the property holds for placement itself, not only for rings derived with withNodes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRing, type Algorithm, type MovedKey, type Ring } from '@wsring/ring';
import { bruteForceMoved, keySet, nodeId, seed, topology, weight } from './support.js';

const MINIMAL: readonly Algorithm[] = ['ring', 'rendezvous'];

/** Everything that moved: every hash range for `ring` (as pseudo-keys), the generated keys for rendezvous. */
function moved(prev: Ring, next: Ring, keys: readonly string[]): Pick<MovedKey, 'from' | 'to'>[] {
  return prev.algorithm === 'rendezvous' ? bruteForceMoved(prev, next, keys) : prev.diff(next);
}

const offenders = (moves: Pick<MovedKey, 'from' | 'to'>[], ok: (m: Pick<MovedKey, 'from' | 'to'>) => boolean) =>
  moves.filter((m) => !ok(m)).slice(0, 3);

describe.each(MINIMAL)('minimal movement (%s)', (algorithm) => {
  it('adding a node moves keys only to it', async () => {
    await fc.assert(
      fc.asyncProperty(topology(200), nodeId, weight, seed, keySet(1500), async (nodes, id, w, s, keys) => {
        fc.pre(!nodes.some((n) => n.id === id));
        const prev = await createRing(nodes, { algorithm, seed: s });
        const next = await createRing([...nodes, { id, weight: w }], { algorithm, seed: s });
        const moves = moved(prev, next, keys);
        expect(offenders(moves, (m) => m.to === id)).toEqual([]);
        if (algorithm === 'ring') expect(moves.length).toBeGreaterThan(0);
      }),
      { numRuns: 25 },
    );
  });

  it('removing a node moves only its keys', async () => {
    await fc.assert(
      fc.asyncProperty(topology(200, 2).chain((nodes) => fc.tuple(fc.constant(nodes), fc.constantFrom(...nodes.map((n) => n.id)))), seed, keySet(1500), async ([nodes, id], s, keys) => {
        const prev = await createRing(nodes, { algorithm, seed: s });
        const next = await createRing(nodes.filter((n) => n.id !== id), { algorithm, seed: s });
        expect(offenders(moved(prev, next, keys), (m) => m.from === id)).toEqual([]);
        // And all of them: none of the removed node's keys stays.
        expect(keys.filter((k) => next.owner(k) === id)).toEqual([]);
      }),
      { numRuns: 25 },
    );
  });

  it('re-weighting a node moves keys only to or from it, and in the direction of the change', async () => {
    await fc.assert(
      fc.asyncProperty(
        topology(200).chain((nodes) => fc.tuple(fc.constant(nodes), fc.constantFrom(...nodes))),
        weight,
        seed,
        keySet(1500),
        async ([nodes, node], w, s, keys) => {
          const before = node.weight ?? 1;
          const after = w ?? 1;
          const prev = await createRing(nodes, { algorithm, seed: s });
          const next = await createRing(nodes.map((n) => (n.id === node.id ? { id: n.id, weight: after } : n)), { algorithm, seed: s });
          const moves = moved(prev, next, keys);
          expect(offenders(moves, (m) => m.from === node.id || m.to === node.id)).toEqual([]);
          // A heavier node only gains keys, a lighter one only loses them.
          if (after > before) expect(offenders(moves, (m) => m.to === node.id)).toEqual([]);
          if (after < before) expect(offenders(moves, (m) => m.from === node.id)).toEqual([]);
        },
      ),
      { numRuns: 25 },
    );
  });
});
