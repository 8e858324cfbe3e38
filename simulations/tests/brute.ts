// Brute force: every figure recomputed by asking fresh rings for the owner of every user, one by one.
import { createRing } from '@wsring/ring';
import { expandSteps } from '../src/cluster.js';
import type { ClusterSpec, StepSpec } from '../src/types.js';

export interface BruteStep {
  moved: number;
  before: Map<string, number>;
  after: Map<string, number>;
  flows: Map<string, number>;
}

export async function bruteForce(cluster: ClusterSpec, steps: StepSpec[], ids: string[]): Promise<BruteStep[]> {
  const out: BruteStep[] = [];
  const options = { algorithm: cluster.algorithm, seed: cluster.ringSeed, pointsPerWeight: cluster.pointsPerWeight, tableSize: cluster.tableSize };
  for (const step of expandSteps(cluster.nodes, steps)) {
    const a = await createRing(step.before.map((n) => ({ id: n.id, weight: n.weight })), options);
    const b = await createRing(step.after.map((n) => ({ id: n.id, weight: n.weight })), options);
    const before = new Map<string, number>();
    const after = new Map<string, number>();
    const flows = new Map<string, number>();
    let moved = 0;
    for (const id of ids) {
      const from = a.owner(id);
      const to = b.owner(id);
      before.set(from, (before.get(from) ?? 0) + 1);
      after.set(to, (after.get(to) ?? 0) + 1);
      if (from !== to) {
        moved++;
        flows.set(`${from}>${to}`, (flows.get(`${from}>${to}`) ?? 0) + 1);
      }
    }
    out.push({ moved, before, after, flows });
  }
  return out;
}

export function syntheticIds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `user-${i}`);
}
