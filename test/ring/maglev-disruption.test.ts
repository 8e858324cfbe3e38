// Property 4: Maglev is not minimal. Adding or removing a node also moves some keys between nodes that stayed
// ("collateral"). The enforced bound (docs/placement.md, "Maglev disruption"), at the default table size and up to
// 200 nodes: collateral is at most 1.5% of the hash space, so moved <= minimum + 0.015; with equal weights,
// moved <= 3 x minimum. Measured on these fixed seeds; the measured worst cases are in the docs.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRing, type Move } from '@wsring/ring';
import { SPACE, nodeId, nodeSpec, seed, topology } from './support.js';

const SEED = 31337;
const MAX_COLLATERAL = 0.015;
const MAX_RATIO_EQUAL_WEIGHTS = 3;

/** Fraction of the hash space that moved, and the part of it that had to (to or from the changed node). */
function measure(moves: readonly Move[], changed: string): { moved: number; minimum: number } {
  let moved = 0;
  let minimum = 0;
  for (const m of moves) {
    moved += m.end - m.start;
    if (m.to === changed || m.from === changed) minimum += m.end - m.start;
  }
  return { moved: moved / SPACE, minimum: minimum / SPACE };
}

describe('maglev disruption', () => {
  it('adding a node: moved <= minimum + 1.5% of the hash space', async () => {
    await fc.assert(
      fc.asyncProperty(topology(200), nodeSpec(), seed, async (nodes, added, s) => {
        fc.pre(!nodes.some((n) => n.id === added.id));
        const prev = await createRing(nodes, { algorithm: 'maglev', seed: s });
        const { moved, minimum } = measure(prev.diff(prev.withNodes([added])), added.id);
        expect(minimum).toBeGreaterThan(0);
        expect(moved - minimum).toBeLessThanOrEqual(MAX_COLLATERAL);
      }),
      { seed: SEED, numRuns: 30 },
    );
  });

  it('removing a node: moved <= minimum + 1.5% of the hash space', async () => {
    await fc.assert(
      fc.asyncProperty(topology(200, 2).chain((nodes) => fc.tuple(fc.constant(nodes), fc.constantFrom(...nodes.map((n) => n.id)))), seed, async ([nodes, removed], s) => {
        const prev = await createRing(nodes, { algorithm: 'maglev', seed: s });
        const { moved, minimum } = measure(prev.diff(prev.withoutNodes([removed])), removed);
        expect(moved - minimum).toBeLessThanOrEqual(MAX_COLLATERAL);
      }),
      { seed: SEED, numRuns: 30 },
    );
  });

  it('equal weights: adding or removing a node moves at most 3x the minimum', async () => {
    const fleet = fc.integer({ min: 2, max: 200 }).chain((n) => fc.uniqueArray(nodeId, { minLength: n, maxLength: n }));
    await fc.assert(
      fc.asyncProperty(fleet, seed, async (ids, s) => {
        const [changed, ...rest] = ids;
        const small = await createRing(rest.map((id) => ({ id })), { algorithm: 'maglev', seed: s });
        const large = small.withNodes([{ id: changed }]);
        for (const [from, to] of [[small, large], [large, small]] as const) {
          const { moved, minimum } = measure(from.diff(to), changed);
          expect(moved).toBeLessThanOrEqual(MAX_RATIO_EQUAL_WEIGHTS * minimum);
        }
      }),
      { seed: SEED, numRuns: 30 },
    );
  });
});
