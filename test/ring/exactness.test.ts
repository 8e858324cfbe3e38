// Property 2: what moved is reported exactly, by every route: movedKeys, the key index, and diff ranges.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createKeyIndex, createRing, movedKeys, type Move, type Ring } from '@wsring/ring';
import { ALGORITHMS, RANGED, SPACE, applyChange, sortedMoves, bruteForceMoved, change, keySet, moveAt, seed, topology } from './support.js';

/** A topology, a change to it, a seed and keys. */
const scenario = (max: number) =>
  topology(max).chain((nodes) => fc.record({ nodes: fc.constant(nodes), change: change(nodes), seed, keys: keySet(1500) }));

/** Ranges are half-open, inside [0, 2^32), sorted, non-overlapping, and merged. Returns the first violation. */
function malformed(moves: readonly Move[]): string | undefined {
  let prev: Move | undefined;
  for (const m of moves) {
    const where = JSON.stringify(m);
    if (!Number.isInteger(m.start) || !Number.isInteger(m.end)) return `non-integer bounds ${where}`;
    if (m.start < 0 || m.end > SPACE || m.start >= m.end) return `empty or out of [0, 2^32): ${where}`;
    if (m.from === m.to) return `from equals to: ${where}`;
    if (prev && m.start < prev.end) return `unsorted or overlapping: ${JSON.stringify(prev)} then ${where}`;
    if (prev && m.start === prev.end && m.from === prev.from && m.to === prev.to) return `not merged: ${JSON.stringify(prev)} then ${where}`;
    prev = m;
  }
  return undefined;
}

/**
 * Probes each range and each gap between ranges at both ends (and the hash just outside), so a boundary that is
 * off by one in either direction is caught: inside a range the owners are exactly (from, to), in a gap they agree.
 * Returns the first hash where the ranges are wrong.
 */
function inexact(prev: Ring, next: Ring, moves: readonly Move[]): string | undefined {
  const probe = (h: number): string | undefined => {
    if (h < 0 || h >= SPACE) return undefined;
    const m = moveAt(moves, h);
    const from = prev.ownerOfHash(h);
    const to = next.ownerOfHash(h);
    if (m ? from !== m.from || to !== m.to : from !== to) return `hash ${h}: owners ${from} -> ${to}, range ${JSON.stringify(m)}`;
    return undefined;
  };
  let at = 0;
  for (const m of moves) {
    for (const h of [at, m.start - 1, m.start, m.end - 1, m.end]) {
      const bad = probe(h);
      if (bad) return bad;
    }
    at = m.end;
  }
  return probe(SPACE - 1);
}

describe.each(ALGORITHMS)('exactness (%s)', (algorithm) => {
  it('movedKeys equals the brute force, and the key index finds the same set', async () => {
    await fc.assert(
      fc.asyncProperty(scenario(200), async ({ nodes, change: c, seed: s, keys }) => {
        const prev = await createRing(nodes, { algorithm, seed: s });
        const next = applyChange(prev, c);
        const brute = bruteForceMoved(prev, next, keys);
        expect(movedKeys(prev, next, keys)).toEqual(brute);
        const index = await createKeyIndex(keys, { seed: s });
        // The index holds each key once, however often it was added.
        const distinct = bruteForceMoved(prev, next, new Set(keys));
        expect(sortedMoves(index.moved(prev, next))).toEqual(sortedMoves(distinct));
        // Deleting keys from the index removes them from the answer.
        const dropped = keys.filter((_, i) => i % 3 === 0);
        for (const k of dropped) index.delete(k);
        const kept = new Set(keys.filter((k) => index.has(k)));
        expect(sortedMoves(index.moved(prev, next))).toEqual(sortedMoves(distinct.filter((m) => kept.has(m.key))));
      }),
      { numRuns: 25 },
    );
  });

  it('the key index still answers exactly when its seed differs from the rings\'', async () => {
    await fc.assert(
      fc.asyncProperty(scenario(60), fc.nat({ max: 0xffffffff }), async ({ nodes, change: c, seed: s, keys }, indexSeed) => {
        fc.pre(indexSeed !== s);
        const prev = await createRing(nodes, { algorithm, seed: s });
        const next = applyChange(prev, c);
        const index = await createKeyIndex(keys, { seed: indexSeed });
        expect(sortedMoves(index.moved(prev, next))).toEqual(sortedMoves(bruteForceMoved(prev, next, new Set(keys))));
      }),
      { numRuns: 10 },
    );
  });
});

describe.each(RANGED)('diff ranges (%s)', (algorithm) => {
  it('are well-formed, exact at every boundary, and hold exactly the moved keys', async () => {
    await fc.assert(
      fc.asyncProperty(scenario(200), async ({ nodes, change: c, seed: s, keys }) => {
        const prev = await createRing(nodes, { algorithm, seed: s });
        const next = applyChange(prev, c);
        const moves = prev.diff(next);
        expect(malformed(moves)).toBeUndefined();
        expect(inexact(prev, next, moves)).toBeUndefined();
        // A key lies in a range exactly when it moved, and the range names the same owners.
        const viaRanges = keys.flatMap((key) => {
          const range = moveAt(moves, prev.hashKey(key));
          return range ? [{ key, from: range.from, to: range.to }] : [];
        });
        expect(sortedMoves(viaRanges)).toEqual(sortedMoves(bruteForceMoved(prev, next, keys)));
      }),
      { numRuns: 25 },
    );
  });

  it('is empty between equal placements and mirrors when reversed', async () => {
    await fc.assert(
      fc.asyncProperty(scenario(100), async ({ nodes, change: c, seed: s }) => {
        const prev = await createRing(nodes, { algorithm, seed: s });
        const next = applyChange(prev, c);
        expect(prev.diff(prev)).toEqual([]);
        const there = prev.diff(next);
        const back = next.diff(prev);
        expect(back.map((m) => [m.start, m.end, m.to, m.from])).toEqual(there.map((m) => [m.start, m.end, m.from, m.to]));
      }),
      { numRuns: 15 },
    );
  });
});

describe('diff ranges across algorithms', () => {
  it('between a ring and a Maglev table of the same seed are well-formed and exact', async () => {
    await fc.assert(
      fc.asyncProperty(scenario(100), async ({ nodes, change: c, seed: s }) => {
        const prev = await createRing(nodes, { algorithm: 'ring', seed: s });
        const next = applyChange(await createRing(nodes, { algorithm: 'maglev', seed: s }), c);
        for (const [a, b] of [[prev, next], [next, prev]] as const) {
          const moves = a.diff(b);
          expect(malformed(moves)).toBeUndefined();
          expect(inexact(a, b, moves)).toBeUndefined();
        }
      }),
      { numRuns: 10 },
    );
  });
});
