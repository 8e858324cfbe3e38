// The storm model's input for a fleet of node-0 .. node-(n-1) and synthetic users, planned with the real ring, with
// the agents' budget split per step and a restart's stand-ins (as `storm` builds them) and the rings of every step.
import type { Algorithm, Ring } from '@wsring/ring';
import { ringSplit } from '../src/budget-split.js';
import { buildNodes, expandSteps } from '../src/cluster.js';
import { lazyFailover } from '../src/failover.js';
import { planSteps } from '../src/plan.js';
import type { StormInput } from '../src/storm.js';
import { loadUserHashes } from '../src/users.js';
import type { StepSpec } from '../src/types.js';

export interface PlannedInput {
  input: StormInput;
  /** Users moved per step. */
  moved: number[];
  /** Per step: users of a handoff's or restart's node (they reconnect to it once); 0 for other steps. */
  redeployed: number[];
  /** Users per node once the last step is done. */
  finalLoads: Map<string, number>;
  /** Each step's rings, before and after. */
  rings: { prev: Ring; next: Ring }[];
}

export async function stormInput(nodes: number, users: number, steps: StepSpec[], algorithm: Algorithm = 'ring'): Promise<PlannedInput> {
  const initial = buildNodes(nodes);
  const expanded = expandSteps(initial, steps);
  const { sorted } = await loadUserHashes({ kind: 'synthetic', count: users }, { ringSeed: 0, workers: 1 });
  const rings: PlannedInput['rings'] = [];
  const splits: ReturnType<typeof ringSplit>[] = [];
  const failovers: ReturnType<typeof lazyFailover>[] = [];
  const plan = await planSteps({ algorithm, ringSeed: 0 }, initial, expanded, sorted, undefined, (i, r) => {
    rings[i] = { prev: r.prev, next: r.next };
    splits[i] = ringSplit(r.prev, r.next, r.moves);
    const deploy = expanded[i].deploy;
    if (deploy?.strategy === 'restart') failovers[i] = lazyFailover(r.prev, deploy.node, sorted);
  });
  const last = plan[plan.length - 1];
  return {
    input: {
      initialLoads: Object.fromEntries(plan[0].loads.map((l) => [l.id, l.before])),
      steps: expanded.map((s, i) => ({ label: s.label, kind: s.kind, departure: s.departure, before: s.before, after: s.after, flows: plan[i].flows, split: splits[i], ...(s.deploy ? { deploy: s.deploy } : {}), ...(failovers[i] ? { failover: failovers[i] } : {}) })),
    },
    moved: plan.map((s) => s.moved),
    redeployed: plan.map((s) => s.deploy?.users ?? 0),
    finalLoads: new Map(last.loads.filter((l) => l.change !== 'left').map((l) => [l.id, l.after])),
    rings,
  };
}
