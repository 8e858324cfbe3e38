// `compare`: the same fleet and change under every placement: the library's three algorithms and the baselines.
import { balanceOf, minimumMoves } from './balance.js';
import { ringSplit, type BudgetSplit } from './budget-split.js';
import { apportion, jumpHash, leastConnections } from './baselines.js';
import { expandSteps } from './cluster.js';
import { hashScenarioUsers, pct, planSteps, ringSettings, type PlanInput, type RunOptions } from './plan.js';
import { silentProgress } from './progress.js';
import { duringFigures, simulateStrategy } from './during.js';
import { resolveStormParams } from './storm-params.js';
import { FLOW_SHIFT, NodeRegistry } from './tracker.js';
import type { CompareReport, ExpandedStep, Flow, SimNode, StormModeResult, StormParams, StrategyName, StrategyResult } from './types.js';

export const STRATEGIES: readonly StrategyName[] = ['ring', 'maglev', 'rendezvous', 'hash-mod-n', 'jump', 'round-robin', 'least-connections'];

interface Outcome {
  movedPerStep: number[];
  /** Users per node of the final fleet, in its order. */
  finalLoads: number[];
  /** Users per node of the first fleet. */
  initialLoads: Record<string, number>;
  /** Per step, who moves where (strategies with affinity). */
  flows?: Flow[][];
  /** Per step, how the agents split their receivers' budgets (the library's algorithms; the others split by users). */
  splits?: BudgetSplit[];
}

export async function runCompare(input: PlanInput, opts: RunOptions & { strategies?: readonly StrategyName[]; stormParams?: StormParams; during?: boolean } = {}): Promise<CompareReport> {
  const params = opts.stormParams ?? resolveStormParams();
  const during = opts.during ?? true;
  const progress = opts.progress ?? silentProgress;
  const expanded = expandSteps(input.cluster.nodes, input.steps);
  const { sorted } = await hashScenarioUsers(input, opts, progress);
  const users = sorted.length;
  const minimumPerStep = expanded.map((s) => minimumMoves(users, s.before, s.after));
  const minimum = minimumPerStep.reduce((a, b) => a + b, 0);
  const finalFleet = expanded[expanded.length - 1].after;
  const chosen = opts.strategies ?? STRATEGIES;
  const done: { result: Omit<StrategyResult, 'during' | 'timeMs'>; run: StormModeResult | null; initialLoads: Record<string, number>; t0: number; t1: number }[] = [];
  for (const strategy of chosen) {
    const t0 = performance.now();
    const outcome = await runStrategy(strategy, input, expanded, sorted, progress);
    const t1 = performance.now();
    const moved = outcome.movedPerStep.reduce((a, b) => a + b, 0);
    const affinity = strategy !== 'round-robin' && strategy !== 'least-connections';
    let run: StormModeResult | null = null;
    if (during) {
      progress.start(`during ${strategy}`, expanded.length);
      run = simulateStrategy({ strategy, affinity, initialLoads: outcome.initialLoads, flows: outcome.flows, splits: outcome.splits }, expanded, params, (d) => progress.update(d));
      progress.stop();
    }
    done.push({
      result: {
        strategy,
        affinity,
        weighted: strategy !== 'hash-mod-n' && strategy !== 'jump',
        moved,
        movedPct: pct(moved, users),
        minimum,
        balanceAfter: balanceOf(finalFleet, outcome.finalLoads),
        movedPerStep: outcome.movedPerStep,
        loadsAfter: finalFleet.map((n, i) => ({ id: n.id, users: outcome.finalLoads[i] })),
      },
      run,
      initialLoads: outcome.initialLoads,
      t0,
      t1,
    });
  }
  // Every strategy is measured over the same horizon: the longest run (a state holds after its run ends).
  const horizonSeconds = during ? Math.max(1, ...done.map((d) => d.run?.totals.runSeconds ?? 0)) : 0;
  const strategies: StrategyResult[] = done.map((d) => ({
    ...d.result,
    ...(d.run ? { during: duringFigures(d.run, expanded, users, horizonSeconds, d.initialLoads, d.result.affinity) } : {}),
    // Placement only, as before: the storm model's time is not the strategy's.
    timeMs: Math.round(d.t1 - d.t0),
  }));
  return {
    command: 'compare',
    scenario: input.scenario,
    users,
    steps: expanded.map((s, i) => ({ label: s.label, minimum: minimumPerStep[i] })),
    horizonSeconds,
    ...(during ? { params } : {}),
    strategies,
  };
}

async function runStrategy(strategy: StrategyName, input: PlanInput, expanded: ExpandedStep[], hashes: Uint32Array, progress: RunOptions['progress']): Promise<Outcome> {
  switch (strategy) {
    case 'ring':
    case 'maglev':
    case 'rendezvous': {
      const splits: BudgetSplit[] = [];
      const steps = await planSteps({ ...ringSettings(input.cluster), algorithm: strategy }, input.cluster.nodes, expanded, hashes, progress, (i, rings) => {
        splits[i] = ringSplit(rings.prev, rings.next, rings.moves);
      });
      const last = steps[steps.length - 1];
      const after = new Map(last.loads.map((l) => [l.id, l.after] as const));
      return {
        movedPerStep: steps.map((s) => s.moved),
        finalLoads: expanded[expanded.length - 1].after.map((n) => after.get(n.id) ?? 0),
        initialLoads: Object.fromEntries(steps[0].loads.filter((l) => l.change !== 'joined').map((l) => [l.id, l.before])),
        flows: steps.map((s) => s.flows),
        splits,
      };
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
  const start = new Map<number, number>();
  for (let u = 0; u < owners.length; u++) start.set(owners[u], (start.get(owners[u]) ?? 0) + 1);
  const initialLoads = Object.fromEntries(initial.map((n) => [n.id, start.get(registry.indexOf(n.id)) ?? 0]));
  const movedPerStep: number[] = [];
  const flows: Flow[][] = [];
  for (const step of expanded) {
    fleet = indexOf(step.after);
    let moved = 0;
    const byPair = new Map<number, number>();
    for (let u = 0; u < hashes.length; u++) {
      const to = fleet[pick(hashes[u], fleet.length)];
      if (to !== owners[u]) {
        const key = owners[u] * FLOW_SHIFT + to;
        byPair.set(key, (byPair.get(key) ?? 0) + 1);
        owners[u] = to;
        moved++;
      }
    }
    movedPerStep.push(moved);
    flows.push([...byPair].map(([key, n]) => ({ from: registry.ids[Math.floor(key / FLOW_SHIFT)], to: registry.ids[key % FLOW_SHIFT], users: n })));
  }
  const loads = new Float64Array(registry.ids.length);
  for (let u = 0; u < owners.length; u++) loads[owners[u]]++;
  return { movedPerStep, finalLoads: fleet.map((i) => loads[i]), initialLoads, flows };
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
  const initialLoads = Object.fromEntries(initial.map((n) => [n.id, loads.get(n.id) ?? 0]));
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
  return { movedPerStep, finalLoads: expanded[expanded.length - 1].after.map((n) => loads.get(n.id) ?? 0), initialLoads };
}
