// Property 1: placement is a pure function of the snapshot: input order, serialisation and reloading change nothing.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRing, loadRing } from '@wsring/ring';
import { ALGORITHMS, keySet, seed, topology } from './support.js';

describe.each(ALGORITHMS)('determinism (%s)', (algorithm) => {
  it('gives the same owners, preference lists and fingerprint for the same nodes in any order', async () => {
    await fc.assert(
      fc.asyncProperty(topology(200).chain((nodes) => fc.tuple(fc.constant(nodes), fc.shuffledSubarray(nodes, { minLength: nodes.length }))), seed, keySet(300), async ([nodes, shuffled], s, keys) => {
        const a = await createRing(nodes, { algorithm, seed: s });
        const b = await createRing(shuffled, { algorithm, seed: s });
        expect(b.fingerprint).toBe(a.fingerprint);
        expect(b.nodes).toEqual(a.nodes);
        for (const k of keys) {
          expect(b.owner(k)).toBe(a.owner(k));
          expect(b.owners(k, 3)).toEqual(a.owners(k, 3));
        }
      }),
      { numRuns: 15 },
    );
  });

  it('survives toJSON, JSON text and loadRing with the same fingerprint and placement', async () => {
    await fc.assert(
      fc.asyncProperty(topology(200), seed, keySet(300), async (nodes, s, keys) => {
        const a = await createRing(nodes, { algorithm, seed: s });
        const snapshot = a.toJSON();
        const b = await loadRing(JSON.parse(JSON.stringify(snapshot)));
        expect(b.toJSON()).toEqual(snapshot);
        expect(b.fingerprint).toBe(a.fingerprint);
        expect(b.algorithm).toBe(algorithm);
        for (const k of keys) {
          expect(b.hashKey(k)).toBe(a.hashKey(k));
          expect(b.owner(k)).toBe(a.owner(k));
          expect(b.owners(k, 3)).toEqual(a.owners(k, 3));
        }
      }),
      { numRuns: 15 },
    );
  });

  it('builds a derived ring (withNodes/withoutNodes) identical to one built from scratch', async () => {
    await fc.assert(
      fc.asyncProperty(topology(100, 2), seed, keySet(300), async (nodes, s, keys) => {
        const [first, ...rest] = nodes;
        // Re-weighting through withNodes must not leave traces of the old weight (the point cache is an optimisation).
        const derived = (await createRing(rest, { algorithm, seed: s })).withNodes([{ ...first, weight: 3 }]).withNodes([first]);
        const scratch = await createRing(nodes, { algorithm, seed: s });
        expect(derived.fingerprint).toBe(scratch.fingerprint);
        for (const k of keys) expect(derived.owner(k)).toBe(scratch.owner(k));
        if (algorithm !== 'rendezvous') expect(derived.diff(scratch)).toEqual([]);
      }),
      { numRuns: 15 },
    );
  });

  it('changes the fingerprint when placement changes', async () => {
    await fc.assert(
      fc.asyncProperty(topology(50, 2), seed, async (nodes, s) => {
        const a = await createRing(nodes, { algorithm, seed: s });
        const b = a.withoutNodes([nodes[0].id]);
        const c = await createRing(nodes, { algorithm, seed: (s + 1) >>> 0 });
        expect(b.fingerprint).not.toBe(a.fingerprint);
        expect(c.fingerprint).not.toBe(a.fingerprint);
      }),
      { numRuns: 20 },
    );
  });
});
