// What happens during a change, not only after it: a strategy's moves run through the storm model (targeted and
// paced for strategies with affinity; dropped and re-balanced for those without), then the per-second connections
// are read for the figures `compare` prints: users disconnected, how long the new nodes stay under-loaded, and
// the imbalance integrated over time.
import type { BudgetSplit } from './budget-split.js';
import { simulateStorm, type StormInput } from './storm.js';
import type { DuringStep, Flow, SimNode, StormModeResult, StormParams, StrategyName } from './types.js';

/**
 * A node that joined counts as under-loaded below this fraction of what it should hold: with affinity, its load
 * once the step is over; without, its fair share.
 */
export const UNDERLOADED = 0.9;

export interface StrategyMoves {
  strategy: StrategyName;
  affinity: boolean;
  initialLoads: Record<string, number>;
  /** Per step: who moves where (strategies with affinity). */
  flows?: Flow[][];
  /** Per step: how the agents split their receivers' budgets (absent: by users carried). */
  splits?: BudgetSplit[];
}

export interface FleetStep {
  label: string;
  kind: StormInput['steps'][number]['kind'];
  departure: StormInput['steps'][number]['departure'];
  before: SimNode[];
  after: SimNode[];
  /** A handoff or restart-in-place deploy of one node. */
  deploy?: StormInput['steps'][number]['deploy'];
}

/** Runs the strategy's change through the storm model: targeted moves with affinity, the balancer without. */
export function simulateStrategy(moves: StrategyMoves, steps: FleetStep[], params: StormParams, onStep?: (done: number) => void): StormModeResult {
  const input: StormInput = { initialLoads: moves.initialLoads, steps: steps.map((s, i) => ({ ...s, flows: moves.flows?.[i] ?? [], split: moves.splits?.[i] })) };
  if (moves.affinity) return simulateStorm(input, params, 'targeted', { onStep });
  // Without affinity only the users of leaving nodes move (as `compare` counts it), through this very balancer.
  const lb = moves.strategy === 'round-robin' ? 'round-robin' : 'least-connections';
  return simulateStorm(input, { ...params, lb, lbDrop: 'affected' }, 'lb', { onStep });
}

/**
 * Reads a run's per-second connections over `horizon` seconds (the state at the end of the run holds after it):
 * each second's fleet is that of the step running then.
 */
export function duringFigures(run: StormModeResult, steps: FleetStep[], users: number, horizon: number, initialLoads: Record<string, number>, affinity: boolean): DuringStep {
  const starts = run.series.stepStarts;
  const conn = run.series.connections;
  const joinedAt = new Map<string, number>();
  steps.forEach((s, i) => {
    const before = new Set(s.before.map((n) => n.id));
    for (const n of s.after) if (!before.has(n.id) && !joinedAt.has(n.id)) joinedAt.set(n.id, starts[i] ?? 0);
  });
  const under = new Map<string, number>();
  let imbalanceSeconds = 0;
  const imbalance: number[] = [];
  let worstMin = Infinity;
  const len = run.totals.runSeconds;
  const loadAt = (id: string, sec: number) => (sec >= 0 && len > 0 ? (conn[id]?.[Math.min(sec, len - 1)] ?? 0) : (initialLoads[id] ?? 0));
  // What a joined node should hold during step k: with affinity, what the placement gives it (its load when the
  // step is over); without, its fair share (that is what a balancer aims at).
  const stepEnd = (k: number) => (k + 1 < starts.length ? starts[k + 1] - 1 : len - 1);
  for (let t = 0; t < horizon; t++) {
    const at = Math.min(t, len - 1);
    let k = 0;
    while (k + 1 < starts.length && starts[k + 1] <= t) k++;
    const fleet = (steps[k] ?? steps[steps.length - 1]).after;
    const total = fleet.reduce((a, n) => a + n.weight, 0);
    let max = -Infinity;
    let min = Infinity;
    for (const n of fleet) {
      const fair = (users * n.weight) / total;
      const load = at >= 0 ? (conn[n.id]?.[at] ?? 0) : (initialLoads[n.id] ?? 0);
      const r = fair > 0 ? load / fair : 1;
      max = Math.max(max, r);
      min = Math.min(min, r);
      if (joinedAt.has(n.id) && (joinedAt.get(n.id) ?? 0) <= t) {
        const target = affinity ? loadAt(n.id, stepEnd(k)) : fair;
        if (load < UNDERLOADED * target) under.set(n.id, (under.get(n.id) ?? 0) + 1);
      }
    }
    imbalanceSeconds += max - min;
    imbalance.push(Math.round((max - min) * 1000) / 1000);
    worstMin = Math.min(worstMin, min);
  }
  const lastFleet = steps[steps.length - 1].after;
  // Still under at the end: only without affinity can a node stay below its target once the change is over.
  const lastTotal = lastFleet.reduce((a, x) => a + x.weight, 0);
  const stillUnder = affinity ? [] : lastFleet.filter((n) => joinedAt.has(n.id) && loadAt(n.id, len - 1) < (UNDERLOADED * users * n.weight) / lastTotal).map((n) => n.id);
  return {
    disconnected: run.totals.disconnected,
    peakNodeArrivalsPerSec: run.totals.peakNodeArrivalsPerSec,
    overloadSeconds: run.totals.overloadSeconds,
    runSeconds: len,
    newNodesUnderloadedSeconds: Math.max(0, ...under.values()),
    newNodesStillUnderloaded: stillUnder,
    imbalanceSeconds,
    worstMinOverMean: worstMin === Infinity ? 1 : worstMin,
    joining: [...joinedAt.keys()],
    imbalance,
    connections: conn,
  };
}
