import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRing } from '@wsring/ring';
import { apportion, jumpHash, leastConnections } from '../src/baselines.js';
import { buildNodes, expandSteps } from '../src/cluster.js';
import { runCompare } from '../src/compare.js';
import { resolveStormParams } from '../src/storm-params.js';
import type { ClusterSpec, StepSpec } from '../src/types.js';
import { bruteForce, syntheticIds } from './brute.js';

/** The paper's code, word for word, in BigInt. */
function jumpReference(key: bigint, buckets: number): number {
  let b = -1n;
  let j = 0n;
  while (j < BigInt(buckets)) {
    b = j;
    key = (key * 2862933555777941757n + 1n) & 0xffffffffffffffffn;
    j = BigInt(Math.floor(Number(b + 1n) * (Number(1n << 31n) / Number((key >> 33n) + 1n))));
  }
  return Number(b);
}

describe('jump hash', () => {
  it('matches the 64-bit reference', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.integer({ min: 1, max: 100_000 }), (key, n) => {
        expect(jumpHash(Number(key >> 32n), Number(key & 0xffffffffn), n)).toBe(jumpReference(key, n));
      }),
      { numRuns: 2000, seed: 7 },
    );
  });

  it('moves a key only to the new bucket when one is added', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 1, max: 5000 }), (h, n) => {
        const a = jumpHash(0, h, n);
        const b = jumpHash(0, h, n + 1);
        expect(b === a || b === n).toBe(true);
      }),
      { numRuns: 2000, seed: 8 },
    );
  });
});

describe('round-robin and least-connections spreading', () => {
  it('apportion hands out exactly n, each within one of its exact share', () => {
    fc.assert(
      fc.property(fc.nat(100_000), fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 30 }), (n, weights) => {
        const got = apportion(n, weights);
        expect(got.reduce((a, b) => a + b, 0)).toBe(n);
        const total = weights.reduce((a, b) => a + b, 0);
        got.forEach((g, i) => expect(Math.abs(g - (n * weights[i]) / total)).toBeLessThan(1));
      }),
      { seed: 9 },
    );
  });

  it('least-connections in one batch equals sending users one at a time to the least loaded node', () => {
    fc.assert(
      fc.property(fc.nat(300), fc.array(fc.tuple(fc.nat(50), fc.integer({ min: 1, max: 4 })), { minLength: 1, maxLength: 8 }), (n, nodes) => {
        const loads = nodes.map(([l]) => l);
        const weights = nodes.map(([, w]) => w);
        const one = [...loads];
        for (let k = 0; k < n; k++) {
          let best = 0;
          for (let i = 1; i < one.length; i++) if (one[i] / weights[i] < one[best] / weights[best]) best = i;
          one[best]++;
        }
        expect(leastConnections(n, loads, weights).map((g, i) => g + loads[i])).toEqual(one);
      }),
      { seed: 10 },
    );
  });
});

describe('compare agrees with a brute-force count for every strategy', () => {
  const USERS = 2000;
  const steps: StepSpec[] = [{ kind: 'scale-out', count: 1 }, { kind: 'drain', ids: ['node-1'] }, { kind: 'rolling-deploy', ids: ['node-3'] }];
  const cluster: ClusterSpec = { nodes: buildNodes(5, [1, 2, 1, 1, 3]), algorithm: 'ring', ringSeed: 3, users: { kind: 'synthetic', count: USERS } };

  it('users moved per step and users per node at the end', async () => {
    const report = await runCompare({ cluster, steps }, { workers: 1 });
    const ids = syntheticIds(USERS);
    const expanded = expandSteps(cluster.nodes, steps);
    const hasher = await createRing([{ id: 'h' }], { seed: cluster.ringSeed });
    const hashes = ids.map((id) => hasher.hashKey(id));
    const byFunction = (pick: (h: number, n: number) => number) => {
      let owner = hashes.map((h) => cluster.nodes[pick(h, cluster.nodes.length)].id);
      const moved = expanded.map((s) => {
        const next = hashes.map((h) => s.after[pick(h, s.after.length)].id);
        const m = next.filter((o, u) => o !== owner[u]).length;
        owner = next;
        return m;
      });
      return { moved, final: expanded.at(-1)!.after.map((n) => owner.filter((o) => o === n.id).length) };
    };
    const expected: Record<string, { moved: number[]; final: number[] }> = {
      'hash-mod-n': byFunction((h, n) => h % n),
      jump: byFunction((h, n) => jumpReference(BigInt(h), n)),
    };
    for (const algorithm of ['ring', 'maglev', 'rendezvous'] as const) {
      const brute = await bruteForce({ ...cluster, algorithm }, steps, ids);
      expected[algorithm] = { moved: brute.map((b) => b.moved), final: expanded.at(-1)!.after.map((n) => brute.at(-1)!.after.get(n.id) ?? 0) };
    }
    // Without affinity, one user at a time: the least loaded (per weight) node, or the next node in a weighted cycle.
    const noAffinity = (choose: (loads: Map<string, number>, fleet: typeof cluster.nodes, k: number) => string) => {
      const loads = new Map<string, number>();
      const place = (n: number, fleet: typeof cluster.nodes) => {
        const got = new Map<string, number>();
        for (let k = 0; k < n; k++) {
          const id = choose(new Map(fleet.map((x) => [x.id, (loads.get(x.id) ?? 0) + (got.get(x.id) ?? 0)])), fleet, k);
          got.set(id, (got.get(id) ?? 0) + 1);
        }
        for (const [id, g] of got) loads.set(id, (loads.get(id) ?? 0) + g);
      };
      place(USERS, cluster.nodes);
      const moved = expanded.map((s) => {
        const gone = s.before.filter((n) => !s.after.some((a) => a.id === n.id));
        const m = gone.reduce((a, n) => a + (loads.get(n.id) ?? 0), 0);
        for (const n of gone) loads.delete(n.id);
        place(m, s.after);
        return m;
      });
      return { moved, final: expanded.at(-1)!.after.map((n) => loads.get(n.id) ?? 0) };
    };
    expected['least-connections'] = noAffinity((loads, fleet) => fleet.reduce((best, n) => ((loads.get(n.id)! / n.weight) < (loads.get(best.id)! / best.weight) ? n : best)).id);
    for (const s of report.strategies) {
      if (s.strategy === 'round-robin') continue;
      expect(s.movedPerStep, s.strategy).toEqual(expected[s.strategy].moved);
      expect(s.loadsAfter.map((l) => l.users), s.strategy).toEqual(expected[s.strategy].final);
    }
    // Round robin: a weighted cycle (each node w times), restarting for each batch of users. The simulator spreads
    // each batch in proportion to weights (largest remainder), which differs from a cycle by at most one user per
    // node and batch: 1 + steps batches here.
    const rrBrute = noAffinity((_loads, fleet, k) => {
      const cycle = fleet.flatMap((n) => Array.from({ length: n.weight }, () => n.id));
      return cycle[k % cycle.length];
    });
    const rr = report.strategies.find((s) => s.strategy === 'round-robin')!;
    const batches = 1 + expanded.length;
    rr.movedPerStep.forEach((m, i) => expect(Math.abs(m - rrBrute.moved[i])).toBeLessThanOrEqual(batches));
    rr.loadsAfter.forEach((l, i) => expect(Math.abs(l.users - rrBrute.final[i])).toBeLessThanOrEqual(batches));
    expect(rr.loadsAfter.reduce((a, l) => a + l.users, 0)).toBe(USERS);
  });
});

describe('compare: what happens during the change', () => {
  const cluster: ClusterSpec = { nodes: buildNodes(4), algorithm: 'ring', ringSeed: 0, users: { kind: 'synthetic', count: 4000 } };

  it('without affinity the added node sits empty the whole time; with it, the node fills and nobody is left behind', async () => {
    const report = await runCompare({ cluster, steps: [{ kind: 'scale-out', count: 1 }] }, { workers: 1, stormParams: resolveStormParams({ ratePerSec: 100 }) });
    const by = new Map(report.strategies.map((s) => [s.strategy, s]));
    for (const name of ['round-robin', 'least-connections'] as const) {
      const d = by.get(name)!.during!;
      expect(by.get(name)!.moved).toBe(0);
      expect(d.newNodesStillUnderloaded).toEqual(['node-4']);
      expect(d.newNodesUnderloadedSeconds).toBe(report.horizonSeconds);
      expect(d.worstMinOverMean).toBe(0);
    }
    for (const name of ['ring', 'maglev', 'rendezvous', 'jump'] as const) {
      const s = by.get(name)!;
      const d = s.during!;
      expect(d.disconnected, name).toBe(s.moved);
      expect(d.newNodesStillUnderloaded).toEqual([]);
      expect(d.newNodesUnderloadedSeconds).toBeGreaterThan(0);
      expect(d.newNodesUnderloadedSeconds).toBeLessThan(report.horizonSeconds);
      // Once settled the connections are the placement's loads.
      expect(report.strategies.length).toBe(7);
      expect(Object.fromEntries(s.loadsAfter.map((l) => [l.id, d.connections[l.id].at(-1)]))).toEqual(Object.fromEntries(s.loadsAfter.map((l) => [l.id, l.users])));
    }
    // The balancers' imbalance over the horizon is the worst: the empty node counts every second.
    const worstAffinity = Math.max(...['ring', 'maglev', 'rendezvous', 'jump'].map((n) => by.get(n as 'ring')!.during!.imbalanceSeconds));
    expect(by.get('least-connections')!.during!.imbalanceSeconds).toBeGreaterThan(worstAffinity);
  });

  it('--no-during leaves the storm model out', async () => {
    const report = await runCompare({ cluster, steps: [{ kind: 'scale-out', count: 1 }] }, { workers: 1, during: false });
    expect(report.strategies.every((s) => s.during === undefined)).toBe(true);
    expect(report.params).toBeUndefined();
  });
});
