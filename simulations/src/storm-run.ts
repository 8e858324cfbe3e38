// `storm`: the exact plan (who moves where) fed through the reconnect model, targeted against the load balancer.
import { ringSplit, type BudgetSplit } from './budget-split.js';
import { expandSteps } from './cluster.js';
import { SimError } from './errors.js';
import { lazyFailover, type FailoverFlow } from './failover.js';
import { hashScenarioUsers, planSteps, ringSettings, type PlanInput, type RunOptions } from './plan.js';
import { silentProgress, type Progress } from './progress.js';
import { acceptRateOf, declaredRateOf, simulateStorm, type StormInput } from './storm.js';
import type { ExpandedStep, StepResult, StormParams, StormReport } from './types.js';

export interface PlannedStorm {
  expanded: ExpandedStep[];
  plan: StepResult[];
  stormInput: StormInput;
  users: number;
  /** Every node of the run, in order of appearance. */
  nodes: string[];
}

/** Hashes the users, plans every step with the real ring and turns the plan into the storm model's input. */
export async function planStorm(input: PlanInput, params: StormParams, opts: RunOptions, progress: Progress): Promise<PlannedStorm> {
  const expanded = expandSteps(input.cluster.nodes, input.steps);
  checkNodeAcceptIds(expanded.flatMap((s) => [...s.before, ...s.after].map((n) => n.id)), params);
  const { sorted } = await hashScenarioUsers(input, opts, progress);
  // How the senders of each step split their receivers' budgets: the agents' own arithmetic on the step's rings.
  const splits: BudgetSplit[] = [];
  // A restart in place: where the node's users go should it be down when they come (the ring it holds them in).
  const failovers: (() => readonly FailoverFlow[])[] = [];
  const plan = await planSteps(ringSettings(input.cluster), input.cluster.nodes, expanded, sorted, progress, (i, rings) => {
    splits[i] = ringSplit(rings.prev, rings.next, rings.moves);
    const deploy = expanded[i].deploy;
    if (deploy?.strategy === 'restart') failovers[i] = lazyFailover(rings.prev, deploy.node, sorted);
  });
  const stormInput: StormInput = {
    initialLoads: Object.fromEntries(plan[0].loads.map((l) => [l.id, l.before])),
    steps: expanded.map((s, i) => ({ label: s.label, kind: s.kind, departure: s.departure, before: s.before, after: s.after, flows: plan[i].flows, split: splits[i], ...(s.deploy ? { deploy: s.deploy } : {}), ...(failovers[i] ? { failover: failovers[i] } : {}) })),
  };
  const nodes: string[] = [];
  const seen = new Set<string>();
  for (const s of expanded) for (const n of [...s.before, ...s.after]) if (!seen.has(n.id)) { seen.add(n.id); nodes.push(n.id); }
  return { expanded, plan, stormInput, users: sorted.length, nodes };
}

export async function runStorm(input: PlanInput, params: StormParams, opts: RunOptions = {}): Promise<StormReport> {
  const progress = opts.progress ?? silentProgress;
  const { expanded, stormInput, users, nodes } = await planStorm(input, params, opts, progress);
  const steps = stormInput.steps.length;
  progress.start('storm targeted', steps);
  const targeted = simulateStorm(stormInput, params, 'targeted', { onStep: (d) => progress.update(d) });
  progress.start('storm LB', steps);
  const lb = simulateStorm(stormInput, params, 'lb', { onStep: (d) => progress.update(d) });
  progress.stop();
  return {
    command: 'storm',
    scenario: input.scenario,
    users,
    params,
    nodes,
    acceptPerSec: Object.fromEntries(nodes.map((id) => [id, acceptRateOf(params, id)])),
    acceptRate: Object.fromEntries(nodes.map((id) => [id, declaredRateOf(params, id)])),
    joining: joiningNodes(expanded),
    targeted,
    lb,
  };
}

/** A per-node accept rate for a node that never is in the fleet is a typo. */
function checkNodeAcceptIds(ids: string[], params: StormParams): void {
  const known = new Set(ids);
  for (const name of ['nodeAcceptPerSec', 'nodeAcceptRate'] as const) {
    for (const id of Object.keys(params[name])) if (!known.has(id)) throw new SimError('UNKNOWN_NODE', `${name}: no node ${JSON.stringify(id)} in any step's fleet`);
  }
}

/** Nodes that are in a step's fleet after it and not before it (new, or back from a deploy), in order of first joining. */
export function joiningNodes(expanded: ExpandedStep[]): string[] {
  const out = new Set<string>();
  for (const s of expanded) {
    const before = new Set(s.before.map((n) => n.id));
    for (const n of s.after) if (!before.has(n.id)) out.add(n.id);
  }
  return [...out];
}
