// The committed vectors pin placement: every topology, loaded from its snapshot or built from its nodes, must
// reproduce every key hash, owner, preference list and fingerprint. The browser check is in packages/ring/tests.
import fc from 'fast-check';
import xxhash from 'xxhash-wasm';
import { describe, expect, it } from 'vitest';
import { createRing, loadRing } from '@wsring/ring';
import { ALGORITHMS, keySet, seed, topology } from '../ring/support.js';
import { readVectors } from './vectors.js';
import { referenceFingerprint, referencePlacement, type ReferenceHash } from './reference.js';

const vectors = readVectors();

describe('placement vectors', () => {
  it('cover every algorithm, fractional weights, non-default seeds and non-ASCII ids and keys', () => {
    const algorithms = new Set(vectors.cases.map((c) => c.snapshot.algorithm));
    expect([...algorithms].sort()).toEqual(['maglev', 'rendezvous', 'ring']);
    const nodes = vectors.cases.flatMap((c) => c.snapshot.nodes);
    expect(nodes.some((n) => !Number.isInteger(n.weight))).toBe(true);
    expect(nodes.some((n) => /[^\x00-\x7f]/.test(n.id))).toBe(true);
    expect(vectors.cases.some((c) => c.snapshot.seed !== 0)).toBe(true);
    expect(vectors.cases.flatMap((c) => c.lookups).some((l) => /[^\x00-\x7f]/.test(l.key))).toBe(true);
  });

  describe.each(vectors.cases.map((c) => [c.name, c] as const))('%s', (_, c) => {
    it('loadRing(snapshot) reproduces hashes, owners, preference lists and the fingerprint', async () => {
      const ring = await loadRing(c.snapshot);
      expect(ring.fingerprint).toBe(c.fingerprint);
      expect(c.lookups.map(({ key }) => ({ key, hash: ring.hashKey(key), owner: ring.owner(key) }))).toEqual(c.lookups);
      expect(c.preferences.map(({ key, n }) => ({ key, n, owners: ring.owners(key, n) }))).toEqual(c.preferences);
    });

    it('createRing(nodes, options) builds the same ring, whatever the node order', async () => {
      const { algorithm, seed, pointsPerWeight, tableSize, nodes } = c.snapshot;
      const ring = await createRing([...nodes].reverse(), { algorithm, seed, pointsPerWeight, tableSize });
      expect(ring.toJSON()).toEqual(c.snapshot);
      expect(ring.fingerprint).toBe(c.fingerprint);
      expect(c.lookups.map(({ key }) => ring.owner(key))).toEqual(c.lookups.map((l) => l.owner));
    });
  });
});

describe('the specification in docs/placement.md', () => {
  const reference = async (): Promise<ReferenceHash> => {
    const x = await xxhash();
    const encoder = new TextEncoder();
    return { xxh32: (bytes, s) => x.h32Raw(bytes, s), xxh64Hex: (bytes) => x.h64Raw(bytes, 0n).toString(16).padStart(16, '0'), utf8: (s) => encoder.encode(s) };
  };

  it('reproduces every vector from a second implementation written from the document alone', async () => {
    const x = await reference();
    for (const c of vectors.cases) {
      expect(referenceFingerprint(x, c.snapshot), c.name).toBe(c.fingerprint);
      const placement = referencePlacement(x, c.snapshot);
      expect(c.lookups.map(({ key }) => ({ key, hash: x.xxh32(x.utf8(key), c.snapshot.seed), owner: placement.owner(key) })), c.name).toEqual(c.lookups);
      expect(c.preferences.map(({ key, n }) => ({ key, n, owners: placement.preference(key, n) })), c.name).toEqual(c.preferences);
    }
  });

  it('agrees with the library on random topologies, seeds and keys', async () => {
    const x = await reference();
    // Small Maglev tables keep the naive reference fast; the algorithm is the same at any prime size.
    const tableSize = fc.constantFrom(2, 3, 5, 101, 1009, 4099);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ALGORITHMS), topology(25), seed, tableSize, keySet(20), async (algorithm, nodes, s, m, keys) => {
        const ring = await createRing(nodes, { algorithm, seed: s, tableSize: algorithm === 'maglev' ? Math.max(m, nextPrime(nodes.length)) : undefined });
        const snapshot = ring.toJSON();
        expect(referenceFingerprint(x, snapshot)).toBe(ring.fingerprint);
        const placement = referencePlacement(x, snapshot);
        const sample = keys.slice(0, 100);
        expect(sample.map((key) => placement.preference(key, 3))).toEqual(sample.map((key) => ring.owners(key, 3)));
        expect(sample.map((key) => placement.owner(key))).toEqual(sample.map((key) => ring.owner(key)));
      }),
      { numRuns: 40 },
    );
  });
});

function nextPrime(n: number): number {
  const prime = (p: number) => p >= 2 && Array.from({ length: Math.floor(Math.sqrt(p)) - 1 }, (_, i) => i + 2).every((d) => p % d !== 0);
  while (!prime(n)) n++;
  return n;
}
