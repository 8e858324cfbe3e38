// Property 6: load follows weight, within bounds measured at the default settings (docs/placement.md, "Balance").
// Statistical, so every fc.assert here runs with a fixed seed: the same topologies on every run.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRing, DEFAULT_POINTS_PER_WEIGHT, defaultTableSize, type NodeSpec } from '@wsring/ring';
import { keyLoads, nodeId, nodesOf, outsiderRing, seed, spaceShares, topology } from './support.js';

const SEED = 20261125;

/** Equal-weight fleets of the sizes the docs quote. */
const equalFleet = (n: number) => fc.uniqueArray(nodeId, { minLength: n, maxLength: n }).map((ids) => ids.map((id) => ({ id })));

const weightOf = (n: NodeSpec) => n.weight ?? 1;
const totalWeight = (nodes: readonly NodeSpec[]) => nodes.reduce((w, n) => w + weightOf(n), 0);

/** Documented bounds at the defaults (160 points per unit of weight; Maglev table >= max(65537, 100 * nodes)). */
const RING_MAX_OVER_MEAN = 1.4;
const RING_MIN_OVER_MEAN = 0.65;
/** |share / expected - 1| * sqrt(points): the relative error of a node with p points shrinks as 1/sqrt(p). */
const RING_NORMALISED_ERROR = 5;
/** |keys - expected| / sqrt(expected): rendezvous is balanced up to sampling noise. */
const RENDEZVOUS_Z = 4.5;

describe('balance at equal weights', () => {
  it.each([10, 100, 200])('ring, %i nodes: max/mean <= 1.4 and min/mean >= 0.65 of the hash space', async (n) => {
    await fc.assert(
      fc.asyncProperty(equalFleet(n), seed, async (nodes, s) => {
        const shares = [...spaceShares(await createRing(nodes, { seed: s }), await outsiderRing('ring', s)).values()];
        expect(Math.max(...shares) * n).toBeLessThanOrEqual(RING_MAX_OVER_MEAN);
        expect(Math.min(...shares) * n).toBeGreaterThanOrEqual(RING_MIN_OVER_MEAN);
      }),
      { seed: SEED, numRuns: 10 },
    );
  });

  it.each([10, 100, 200])('maglev, %i nodes: every node within 3 slots of 1/n of the table', async (n) => {
    await fc.assert(
      fc.asyncProperty(equalFleet(n), seed, async (nodes, s) => {
        const m = defaultTableSize(n);
        const shares = spaceShares(await createRing(nodes, { algorithm: 'maglev', seed: s }), await outsiderRing('ring', s));
        for (const share of shares.values()) expect(Math.abs(share * m - m / n)).toBeLessThanOrEqual(3);
      }),
      { seed: SEED, numRuns: 10 },
    );
  });

  it.each([10, 100, 200])('rendezvous, %i nodes: key counts within sampling noise', async (n) => {
    const keys = Array.from({ length: 200 * n }, (_, i) => `user-${i}`);
    await fc.assert(
      fc.asyncProperty(equalFleet(n), seed, async (nodes, s) => {
        const expected = keys.length / n;
        for (const load of keyLoads(await createRing(nodes, { algorithm: 'rendezvous', seed: s }), keys).values()) {
          expect(Math.abs(load - expected) / Math.sqrt(expected)).toBeLessThanOrEqual(RENDEZVOUS_Z);
        }
      }),
      { seed: SEED, numRuns: 2 },
    );
  });
});

describe('shares follow weights', () => {
  it('ring: each node within 5/sqrt(points) of its weight share', async () => {
    await fc.assert(
      fc.asyncProperty(topology(200), seed, async (nodes, s) => {
        const shares = spaceShares(await createRing(nodes, { seed: s }), await outsiderRing('ring', s));
        const total = totalWeight(nodes);
        for (const node of nodes) {
          const points = Math.max(1, Math.round(weightOf(node) * DEFAULT_POINTS_PER_WEIGHT));
          const error = Math.abs(shares.get(node.id)! / (weightOf(node) / total) - 1) * Math.sqrt(points);
          expect(error, node.id).toBeLessThanOrEqual(RING_NORMALISED_ERROR);
        }
      }),
      { seed: SEED, numRuns: 30 },
    );
  });

  it('maglev: each node holds M*w/W slots within 3 + n*w/W (the bound proved in docs/placement.md)', async () => {
    await fc.assert(
      fc.asyncProperty(topology(200), seed, async (nodes, s) => {
        const m = defaultTableSize(nodes.length);
        const shares = spaceShares(await createRing(nodes, { algorithm: 'maglev', seed: s }), await outsiderRing('ring', s));
        const total = totalWeight(nodes);
        for (const node of nodes) {
          const w = weightOf(node) / total;
          // Slot widths differ by at most one hash value, so shares * M are whole slot counts up to rounding.
          expect(Math.abs(shares.get(node.id)! * m - m * w), node.id).toBeLessThanOrEqual(3 + nodes.length * w + 1e-6);
        }
      }),
      { seed: SEED, numRuns: 30 },
    );
  });

  it('rendezvous: key counts within sampling noise of the weight share', async () => {
    const keys = Array.from({ length: 20_000 }, (_, i) => `user-${i}`);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 60 }).chain(nodesOf), seed, async (nodes, s) => {
        const loads = keyLoads(await createRing(nodes, { algorithm: 'rendezvous', seed: s }), keys);
        const total = totalWeight(nodes);
        for (const node of nodes) {
          const expected = (keys.length * weightOf(node)) / total;
          expect(Math.abs(loads.get(node.id)! - expected) / Math.sqrt(expected), node.id).toBeLessThanOrEqual(RENDEZVOUS_Z);
        }
      }),
      { seed: SEED, numRuns: 10 },
    );
  });
});
