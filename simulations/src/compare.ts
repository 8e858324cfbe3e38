// `compare`: the same fleet and change under every placement: the library's three algorithms and the baselines.
import { balanceOf, minimumMoves } from './balance.js';
import { apportion, jumpHash, leastConnections } from './baselines.js';
import { expandSteps } from './cluster.js';
import { hashScenarioUsers, pct, planSteps, ringSettings, type PlanInput, type RunOptions } from './plan.js';
import { silentProgress } from './progress.js';
import { NodeRegistry } from './tracker.js';
import type { CompareReport, ExpandedStep, SimNode, StrategyName, StrategyResult } from './types.js';

export const STRATEGIES: readonly StrategyName[] = ['ring', 'maglev', 'rendezvous', 'hash-mod-n', 'jump', 'round-robin', 'least-connections'];

interface Outcome {
  movedPerStep: number[];
  /** Users per node of the final fleet, in its order. */
  finalLoads: number[];
}

export async function runCompare(input: PlanInput, opts: RunOptions & { strategies?: readonly StrategyName[] } = {}): Promise<CompareReport> {
  const progress = opts.progress ?? silentProgress;
  const expanded = expandSteps(input.cluster.nodes, input.steps);
  const { sorted } = await hashScenarioUsers(input, opts, progress);
  const users = sorted.length;
  const minimumPerStep = expanded.map((s) => minimumMoves(users, s.before, s.after));
  const minimum = minimumPerStep.reduce((a, b) => a + b, 0);
  const finalFleet = expanded[expanded.length - 1].after;
  const strategies: StrategyResult[] = [];
  const chosen = opts.strategies ?? STRATEGIES;
  for (const strategy of chosen) {
    const t0 = performance.now();
    const outcome = await runStrategy(strategy, input, expanded, sorted, progress);
    const moved = outcome.movedPerStep.reduce((a, b) => a + b, 0);
    strategies.push({
      strategy,
      affinity: strategy !== 'round-robin' && strategy !== 'least-connections',
      weighted: strategy !== 'hash-mod-n' && strategy !== 'jump',
      moved,
      movedPct: pct(moved, users),
      minimum,
      balanceAfter: balanceOf(finalFleet, outcome.finalLoads),
      movedPerStep: outcome.movedPerStep,
      loadsAfter: finalFleet.map((n, i) => ({ id: n.id, users: outcome.finalLoads[i] })),
      timeMs: Math.round(performance.now() - t0),
    });
  }
  return {
    command: 'compare',
    scenario: input.scenario,
    users,
    steps: expanded.map((s, i) => ({ label: s.label, minimum: minimumPerStep[i] })),
    strategies,
  };
}

async function runStrategy(strategy: StrategyName, input: PlanInput, expanded: ExpandedStep[], hashes: Uint32Array, progress: RunOptions['progress']): Promise<Outcome> {
  switch (strategy) {
    case 'ring':
    case 'maglev':
    case 'rendezvous': {
      const steps = await planSteps({ ...ringSettings(input.cluster), algorithm: strategy }, input.cluster.nodes, expanded, hashes, progress);
      const last = steps[steps.length - 1];
      const after = new Map(last.loads.map((l) => [l.id, l.after] as const));
      return { movedPerStep: steps.map((s) => s.moved), finalLoads: expanded[expanded.length - 1].after.map((n) => after.get(n.id) ?? 0) };
    }
    case 'hash-mod-n':
      return byFunction(input.cluster.nodes, expanded, hashes, (h, n) => h % n);
    case 'jump':
      return byFunction(input.cluster.nodes, expanded, hashes, (h, n) => jumpHash(0, h, n));
    case 'round-robin':
      return withoutAffinity(input.cluster.nodes, expanded, hashes.length, (n, _loads, weights) => apportion(n, weights));
    case 'least-connections':
      return withoutAffinity(input.cluster.nodes, expanded, hashes.length, leastConnections);
  }
}

/** A placement that is a function of the user's hash and the fleet's size: node = fleet[pick(hash, fleet size)]. */
function byFunction(initial: SimNode[], expanded: ExpandedStep[], hashes: Uint32Array, pick: (hash: number, nodes: number) => number): Outcome {
  const registry = new NodeRegistry();
  const owners = new Uint32Array(hashes.length);
  const indexOf = (fleet: SimNode[]) => fleet.map((n) => registry.indexOf(n.id));
  let fleet = indexOf(initial);
  for (let u = 0; u < hashes.length; u++) owners[u] = fleet[pick(hashes[u], fleet.length)];
  const movedPerStep: number[] = [];
  for (const step of expanded) {
    fleet = indexOf(step.after);
    let moved = 0;
    for (let u = 0; u < hashes.length; u++) {
      const to = fleet[pick(hashes[u], fleet.length)];
      if (to !== owners[u]) {
        owners[u] = to;
        moved++;
      }
    }
    movedPerStep.push(moved);
  }
  const loads = new Float64Array(registry.ids.length);
  for (let u = 0; u < owners.length; u++) loads[owners[u]]++;
  return { movedPerStep, finalLoads: fleet.map((i) => loads[i]) };
}

/**
 * A load balancer without affinity: users are spread over the fleet when they connect and stay where they are.
 * A step moves only the users of nodes that leave; they reconnect and the balancer spreads them over the new
 * fleet (`spread` says how many each node gets). Nodes that join start empty.
 */
function withoutAffinity(initial: SimNode[], expanded: ExpandedStep[], users: number, spread: (n: number, loads: readonly number[], weights: readonly number[]) => number[]): Outcome {
  const loads = new Map<string, number>();
  const place = (n: number, fleet: SimNode[]) => {
    const current = fleet.map((x) => loads.get(x.id) ?? 0);
    spread(n, current, fleet.map((x) => x.weight)).forEach((k, i) => loads.set(fleet[i].id, current[i] + k));
  };
  place(users, initial);
  const movedPerStep: number[] = [];
  for (const step of expanded) {
    const stays = new Set(step.after.map((n) => n.id));
    let moved = 0;
    for (const n of step.before) {
      if (stays.has(n.id)) continue;
      moved += loads.get(n.id) ?? 0;
      loads.delete(n.id);
    }
    place(moved, step.after);
    movedPerStep.push(moved);
  }
  return { movedPerStep, finalLoads: expanded[expanded.length - 1].after.map((n) => loads.get(n.id) ?? 0) };
}
